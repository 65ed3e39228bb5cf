"""The TRL reward functions, called as GRPOTrainer calls them (no TRL needed for these tests)."""

from __future__ import annotations

from typing import Any

import pytest

from azr_env.dataset import Scorer, create_dataset, reference_answer
from azr_env.errors import AZRConfigError
from azr_env.executor import Executor
from azr_env.integrations.trl import deduction_reward, solve_reward, solve_rewards


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """What TRL passes: every dataset column, one value per completion."""
    return {key: [r[key] for r in rows] for key in rows[0]}


def test_each_role_scores_its_own_rows_and_leaves_the_others_none(executor: Executor) -> None:
    rows = [*create_dataset("deduction", 2, seed=0, executor=executor),
            *create_dataset("induction", 2, seed=0, executor=executor)]
    completions = [f"</think> <answer>{reference_answer(r)}</answer>" for r in rows]
    completions[1] = "no answer at all"
    metrics: dict[str, float] = {}
    with Scorer(executor=executor) as scorer:
        funcs = solve_rewards(scorer=scorer)
        got = {f.__name__: f(prompts=[r["prompt"] for r in rows], completions=completions,
                             completion_ids=[[1]] * 4, log_metric=metrics.__setitem__,
                             trainer_state=None, **_columns(rows)) for f in funcs}
    assert got == {"azr_deduction": [1.0, -1.0, None, None],
                   "azr_abduction": [None] * 4,
                   "azr_induction": [None, None, 1.0, 1.0]}
    assert metrics == {"azr_deduction/accuracy": 0.5, "azr_induction/accuracy": 1.0}


def test_conversational_completions_are_read(executor: Executor) -> None:
    rows = create_dataset("abduction", 2, seed=5, executor=executor).rows
    chats = [[{"role": "assistant", "content": f"</think> <answer>{reference_answer(r)}</answer>"}]
             for r in rows]
    with Scorer(executor=executor) as scorer:
        reward = solve_reward("abduction", scorer=scorer)
        assert reward(prompts=[], completions=chats, **_columns(rows)) == [1.0, 1.0]


def test_missing_columns_say_which() -> None:
    with pytest.raises(AZRConfigError, match="'task' and 'task_type'"):
        deduction_reward(prompts=["p"], completions=["c"])
