"""The records a step passes around: the posed `Episode` and the scored `Outcome`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from azr_env.rewards import RewardBreakdown
from azr_env.task import Task
from azr_env.tasks import ProposeContext, get_task_type


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

    def reset_info(self, reveal: bool = False) -> dict[str, Any]:
        """What `reset` returns in `info`: the task to solve, or the proposer's references.

        A solve task is shown as its prompt shows it (`shown_task`) unless `reveal`, when it is
        the whole task with its gold answers (`EnvConfig.reveal_answers`).
        """
        context = self.context or ProposeContext()
        shown = list(context.references) + ([context.program] if context.program else [])
        task: dict[str, Any] = {}
        if self.task is not None:
            task = self.task.to_json() if reveal else shown_task(self.task)
        return {
            "task_type": self.task_type,
            "role": self.role,
            "task": task,
            "references": [t.id for t in shown],
        }


def shown_task(task: Task) -> dict[str, Any]:
    """A solve task as its solver sees it: its id and the fields its prompt shows, no gold.

    Deduction shows `program` and `input`, abduction `program` and `output`, induction the
    shown `pairs` and `message`; the task type decides (`TaskType.solve_fields`).
    """
    fields = get_task_type(task.task_type).solve_fields(task)
    out: dict[str, Any] = {"id": task.id, "task_type": task.task_type}
    for name in ("program", "input", "output", "message"):
        if getattr(fields, name):
            out[name] = getattr(fields, name)
    if fields.pairs:
        out["pairs"] = [list(pair) for pair in fields.pairs]
    return out


@dataclass
class Outcome:
    """The reward of one completion and its `info`."""

    reward: float
    info: dict[str, Any] = field(default_factory=dict)


def outcome(episode: Episode, reward: float, reason: str, *,
            breakdown: RewardBreakdown | None = None, **extra: Any) -> Outcome:
    """The one place a step's `info` is built. Every info has the same keys, whatever the role,
    so batched infos line up; `breakdown` (a scored answer or proposal) adds its reward terms,
    `extra` sets the keys a scorer knows (answer, proposal, detail, infra, ...)."""
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
    if breakdown is not None:
        info.update(breakdown.to_info())
    return Outcome(reward, info)


