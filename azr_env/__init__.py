"""azr_env: the Absolute Zero self-play environment and its sandboxed executor.

Importing the package registers the Gymnasium ids (and nothing heavier: the env modules load
when an env is made, and nothing here imports torch):

- `azr_env/SelfPlay-v0`: cycles the six (task type, role) groups;
- `azr_env/<Type>-{Propose,Solve}-v0`: one group each, for every registered task type
  (`Deduction`, `Abduction`, `Induction`, and any type `register_task_type` adds later;
  `env_id(task_type, role)` names them).

Every id has a `vector_entry_point`, so `gymnasium.make_vec(id, num_envs=B,
vectorization_mode="vector_entry_point")` gives the native batched env.
"""

from __future__ import annotations

from azr_env.registration import ROLES, SELFPLAY_ID, env_id, register_selfplay

__version__ = "0.1.0"

register_selfplay()
from azr_env.tasks import available_task_types  # noqa: E402  (registers the types and their ids)

ENV_IDS: tuple[str, ...] = (
    SELFPLAY_ID, *(env_id(t, r) for t in available_task_types() for r in ROLES)
)
"""Every id registered on import (a type registered later adds its own two)."""

PUBLIC_MODULES: tuple[str, ...] = (
    "azr_env",
    "azr_env.buffers",
    "azr_env.config",
    "azr_env.dataset",
    "azr_env.env",
    "azr_env.errors",
    "azr_env.executor",
    "azr_env.formats",
    "azr_env.integrations.trl",
    "azr_env.rewards",
    "azr_env.sources",
    "azr_env.spaces",
    "azr_env.task",
    "azr_env.tasks",
    "azr_env.vector",
)
"""The modules other code may import (docs/api/azr_env.md documents them). Everything else
(`azr_env.core`, `azr_env.scoring`, `azr_env.executor.pool`, ...) is internal: it may change
without notice. tests/test_import_graph.py checks that azr_agents keeps to these."""

__all__ = ["ENV_IDS", "PUBLIC_MODULES", "env_id"]
