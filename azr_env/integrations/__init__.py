"""Adapters from azr's tasks and rewards to other libraries' trainers (see `docs/trainers.md`).

- `azr_env.integrations.trl`: reward functions for TRL's `GRPOTrainer`.

Each adapter imports nothing of the library it serves: it only speaks its calling convention.
"""
