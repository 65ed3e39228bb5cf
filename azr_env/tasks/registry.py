"""The task-type registry: each task module registers itself with one line at its bottom."""

from __future__ import annotations

from azr_env.errors import AZRConfigError
from azr_env.tasks.base import TaskType

_TASK_TYPES: dict[str, TaskType] = {}


def register_task_type(task_type: TaskType) -> TaskType:
    """Make `task_type` available to envs by its `name`; re-registering a name replaces it."""
    name = getattr(task_type, "name", "")
    if not isinstance(task_type, TaskType) or not isinstance(name, str) or not name:
        raise AZRConfigError("register_task_type needs a TaskType instance with a non-empty name")
    _TASK_TYPES[name] = task_type
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
