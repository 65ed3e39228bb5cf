"""azr_env: the Absolute Zero self-play environment and its sandboxed executor."""

__version__ = "0.1.0"
