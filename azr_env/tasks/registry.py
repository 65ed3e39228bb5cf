"""The task-type registry: each task module registers itself with one line at its bottom.

Registering a type also registers its Gymnasium ids (`azr_env.registration.env_id`), so a type
added by a user's module gets `gymnasium.make_vec("azr_env/<Name>-Solve-v0", ...)` like the
paper's three.
"""

from __future__ import annotations

from azr_env.errors import AZRConfigError
from azr_env.registration import register_env_ids
from azr_env.tasks.base import TaskType

_TASK_TYPES: dict[str, TaskType] = {}


def register_task_type(task_type: TaskType) -> TaskType:
    """Make `task_type` available to envs by its `name`, with its two Gymnasium ids;
    re-registering a name replaces the type (its ids stay)."""
    name = getattr(task_type, "name", "")
    if not isinstance(task_type, TaskType) or not isinstance(name, str) or not name:
        raise AZRConfigError("register_task_type needs a TaskType instance with a non-empty name")
    _TASK_TYPES[name] = task_type
    register_env_ids(name)
    return task_type


def get_task_type(name: str) -> TaskType:
    """The registered task type called `name`."""
    try:
        return _TASK_TYPES[name]
    except KeyError:
        raise AZRConfigError(
            f"unknown task type {name!r}; registered: {available_task_types()} (add one with "
            "azr_env.tasks.register_task_type)"
        ) from None


def available_task_types() -> list[str]:
    """Names of the registered task types, in registration order."""
    return list(_TASK_TYPES)
