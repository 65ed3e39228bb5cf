"""The `azr` command: one module per subcommand (train, export, exec, eval, bench).

Subcommands import their heavy dependencies (torch, transformers) only when they run, so that
`azr exec` starts in a blink on a machine with just azr_env installed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from azr_agents.cli import bench, eval, exec, export, train


def build_parser() -> argparse.ArgumentParser:
    """The parser of `azr` with every subcommand; each sets `handler` to run it."""
    parser = argparse.ArgumentParser(prog="azr", description="Absolute Zero self-play reasoning.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (train, export, exec, eval, bench):
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `azr` with `argv` (default: the process's arguments); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)
