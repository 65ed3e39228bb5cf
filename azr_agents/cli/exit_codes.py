"""Exit codes shared by the `azr` subcommands."""

EXIT_USAGE = 2
"""A user mistake (bad option, unknown preset, missing file): one line on stderr, then exit 2."""

EXIT_INTERRUPTED = 130
"""Ctrl-C, as a shell reports it (128 + SIGINT)."""
