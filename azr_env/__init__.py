"""azr_env: the Absolute Zero self-play environment and its sandboxed executor.

Importing the package registers the Gymnasium ids (and nothing heavier: the env modules load
when an env is made, and nothing here imports torch):

- `azr_env/SelfPlay-v0`: cycles the six (task type, role) groups;
- `azr_env/{Deduction,Abduction,Induction}-{Propose,Solve}-v0`: one group each.

Every id has a `vector_entry_point`, so `gymnasium.make_vec(id, num_envs=B,
vectorization_mode="vector_entry_point")` gives the native batched env.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

ENV_IDS: tuple[str, ...] = (
    "azr_env/SelfPlay-v0",
    *(f"azr_env/{t}-{r}-v0" for t in ("Deduction", "Abduction", "Induction")
      for r in ("Propose", "Solve")),
)
"""Every id registered on import."""

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


def _register() -> None:
    import gymnasium

    specs: dict[str, dict[str, Any]] = {"azr_env/SelfPlay-v0": {}}
    for name in ("Deduction", "Abduction", "Induction"):
        for role in ("Propose", "Solve"):
            specs[f"azr_env/{name}-{role}-v0"] = {
                "task_types": [name.lower()], "roles": [role.lower()]
            }
    for env_id, kwargs in specs.items():
        if env_id in gymnasium.registry:
            continue
        gymnasium.register(
            id=env_id,
            entry_point="azr_env.env:AZREnv",
            vector_entry_point="azr_env.vector:AZRVectorEnv",
            kwargs=kwargs,
            # Buffers grow as valid proposals arrive, so a seed alone does not fix the prompt
            # of later episodes; a fresh env on a seed is deterministic (check_env verifies).
            nondeterministic=False,
        )


_register()
