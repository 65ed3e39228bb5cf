"""Task types: deduction, abduction and induction, each one module that registers itself.

`get_task_type(name)` returns the registered `TaskType`; `register_task_type` adds your own
(see `docs/env.md`).
"""

# Importing the modules registers the paper's three types (one line at the bottom of each).
from azr_env.tasks import abduction, deduction, induction  # noqa: F401
from azr_env.tasks.base import (
    Proposal,
    ProposeContext,
    Rejection,
    TaskSettings,
    TaskType,
    Validation,
)
from azr_env.tasks.registry import available_task_types, get_task_type, register_task_type
from azr_env.tasks.validation import validate_proposals

__all__ = [
    "Proposal",
    "ProposeContext",
    "Rejection",
    "TaskSettings",
    "TaskType",
    "Validation",
    "available_task_types",
    "get_task_type",
    "register_task_type",
    "validate_proposals",
]
