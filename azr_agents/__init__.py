"""azr_agents: the reference Absolute Zero agent, built on azr_env's public API only."""

__version__ = "0.1.0"
