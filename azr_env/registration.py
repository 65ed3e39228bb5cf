"""Gymnasium ids: `azr_env/SelfPlay-v0`, and one id per (task type, role) of every registered
task type, made by `register_env_ids` when the type is registered (`register_task_type`).

Only gymnasium is imported here: the env modules load when an env is made.
"""

from __future__ import annotations

from typing import Any

import gymnasium

SELFPLAY_ID = "azr_env/SelfPlay-v0"
ROLES: tuple[str, ...] = ("propose", "solve")


def env_id(task_type: str, role: str) -> str:
    """The id of one (task type, role) group: `deduction`, `solve` -> `azr_env/Deduction-Solve-v0`,
    `type_prediction` -> `azr_env/TypePrediction-...`."""
    camel = "".join(part.capitalize() for part in task_type.split("_"))
    return f"azr_env/{camel}-{role.capitalize()}-v0"


def _register(id_: str, kwargs: dict[str, Any]) -> None:
    if id_ in gymnasium.registry:
        return
    gymnasium.register(
        id=id_,
        entry_point="azr_env.env:AZREnv",
        vector_entry_point="azr_env.vector:AZRVectorEnv",
        kwargs=kwargs,
        # Buffers grow as valid proposals arrive, so a seed alone does not fix the prompt
        # of later episodes; a fresh env on a seed is deterministic (check_env verifies).
        nondeterministic=False,
    )


def register_selfplay() -> None:
    """`azr_env/SelfPlay-v0`: cycles the six groups of the paper's three task types."""
    _register(SELFPLAY_ID, {})


def register_env_ids(task_type: str) -> tuple[str, ...]:
    """Register the propose and solve ids of `task_type` (again: no-op); returns them."""
    ids = tuple(env_id(task_type, role) for role in ROLES)
    for id_, role in zip(ids, ROLES, strict=True):
        _register(id_, {"task_types": [task_type], "roles": [role]})
    return ids
