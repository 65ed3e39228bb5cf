"""Reward functions for TRL's `GRPOTrainer`, one per solve role, built on `azr_env.dataset`.

TRL calls each reward function as `func(prompts=..., completions=..., completion_ids=...,
**columns)` where `columns` holds every dataset column (one value per completion) plus
`trainer_state`, `log_extra` and `log_metric`, and expects one float (or None: "does not apply")
per completion. A dataset made by `create_dataset(...).to_hf()` carries the `task` and `format`
columns these functions read, so:

    trainer = GRPOTrainer(model=..., reward_funcs=solve_rewards(), train_dataset=dataset)

Each function scores the rows of its own task type (the others get None, which TRL leaves out of
the sum) in one sandbox batch, with the env's solve reward: 1 correct, -0.5 wrong, -1 malformed.
A sandbox failure gives None too, never a silent 0. Completions may be strings (TRL's standard
format) or chat messages (its conversational format). Proposer rewards need a solver and the
task buffers, so they stay in the env (`AZREnv` with a `solver`).

Importing this module does not import TRL (nor torch).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from azr_env.dataset import Scorer, judge
from azr_env.errors import AZRConfigError
from azr_env.task import TASK_TYPES

RewardFunc = Callable[..., list[float | None]]
"""TRL's reward function type: (prompts, completions, **columns) -> one reward per completion."""


def solve_reward(task_type: str, *, scorer: Scorer | None = None) -> RewardFunc:
    """The reward function of one solve role (`deduction`, `abduction` or `induction`).

    `scorer` shares your own `Scorer` (its executor and limits); by default the shared scorer
    of `azr_env.dataset.score` is used. The function is named `azr_<task type>`, which TRL uses
    in its logs (`rewards/azr_deduction/mean`); it also logs `azr_<task type>/accuracy`.
    """
    if not isinstance(task_type, str) or not task_type:
        raise AZRConfigError(
            f"task_type must be a task type name such as 'deduction', got {task_type!r}"
        )
    name = f"azr_{task_type}"

    def reward(
        prompts: Sequence[Any], completions: Sequence[Any], **columns: Any
    ) -> list[float | None]:
        tasks, formats = columns.get("task"), columns.get("format")
        types = columns.get("task_type")
        if tasks is None or types is None:
            raise AZRConfigError(
                f"{name} needs the dataset columns 'task' and 'task_type' (as create_dataset "
                "writes them); keep them in the dataset you give GRPOTrainer"
            )
        mine = [i for i, t in enumerate(types) if t == task_type]
        out: list[float | None] = [None] * len(completions)
        if not mine:
            return out
        rows = [{"task": tasks[i], "format": formats[i] if formats is not None else "r1"}
                for i in mine]
        picked = [completions[i] for i in mine]
        judged = scorer.judge(rows, picked) if scorer is not None else judge(rows, picked)
        for i, verdict in zip(mine, judged, strict=True):
            out[i] = None if verdict.infra or math.isnan(verdict.reward) else verdict.reward
        log_metric = columns.get("log_metric")
        if callable(log_metric):
            log_metric(f"{name}/accuracy", sum(j.correct for j in judged) / len(judged))
        return out

    reward.__name__ = reward.__qualname__ = name
    reward.__doc__ = (
        f"TRL reward: the env's solve reward of {task_type} completions (None elsewhere)."
    )
    return reward


def solve_rewards(task_types: Sequence[str] = TASK_TYPES, *,
                  scorer: Scorer | None = None) -> list[RewardFunc]:
    """One reward function per solve role, for a dataset that mixes task types."""
    return [solve_reward(t, scorer=scorer) for t in task_types]


deduction_reward = solve_reward("deduction")
abduction_reward = solve_reward("abduction")
induction_reward = solve_reward("induction")

__all__ = ["RewardFunc", "abduction_reward", "deduction_reward", "induction_reward",
           "solve_reward", "solve_rewards"]
