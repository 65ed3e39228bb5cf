"""The records a step passes around: the posed `Episode` and the scored `Outcome`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from azr_env.task import Task
from azr_env.tasks import ProposeContext


@dataclass(frozen=True)
class Episode:
    """One posed step: the prompt, and what it was built from."""

    task_type: str
    role: str
    prompt: str
    task: Task | None = None
    context: ProposeContext | None = None

    def observation(self) -> dict[str, str]:
        return {"prompt": self.prompt, "role": self.role, "task_type": self.task_type}

    def reset_info(self) -> dict[str, Any]:
        """What `reset` returns in `info`: the task to solve, or the proposer's references."""
        context = self.context or ProposeContext()
        shown = list(context.references) + ([context.program] if context.program else [])
        return {
            "task_type": self.task_type,
            "role": self.role,
            "task": self.task.to_json() if self.task is not None else {},
            "references": [t.id for t in shown],
        }


@dataclass
class Outcome:
    """The reward of one completion and its `info`."""

    reward: float
    info: dict[str, Any] = field(default_factory=dict)


def info_of(episode: Episode, reward: float, reason: str, **extra: Any) -> dict[str, Any]:
    """Every step info has the same keys, whatever the role, so batched infos line up."""
    info: dict[str, Any] = {
        "task_type": episode.task_type,
        "role": episode.role,
        "format_ok": False,
        "accuracy": None,
        "solve_rate": None,
        "learnability": None,
        "reward": reward,
        "reason": reason,
        "detail": None,
        "infra": False,
        "learnability_estimated": False,
        "added_to_buffer": False,
        "task": episode.task.to_json() if episode.task is not None else {},
        "answer": None,
        "proposal": {},
    }
    info.update(extra)
    return info


