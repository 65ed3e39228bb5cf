"""The dataset API: rows with prompts and tasks, and batched scoring with per-answer reasons."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from azr_env.dataset import Scorer, create_dataset, reference_answer, score, task_of
from azr_env.errors import AZRConfigError
from azr_env.executor import Executor
from azr_env.formats import get_format
from azr_env.task import Task
from azr_env.tasks import get_task_type


def _wrap(body: str) -> str:
    return f"</think> <answer>\n{body}\n</answer>"


def test_rows_hold_the_prompt_and_the_task(executor: Executor) -> None:
    ds = create_dataset("induction", 3, seed=2, format="plain", executor=executor)
    assert (ds.task_type, ds.source, ds.format, len(ds)) == ("induction", "generator", "plain", 3)
    row = ds[0]
    assert set(row) == {"prompt", "task_type", "task_id", "origin", "format", "task"}
    task = task_of(row)
    assert json.loads(row["task"]) == task.to_json() and task.id == row["task_id"]
    assert len(task.inputs) == 10  # the env's induction_inputs
    fields = get_task_type("induction").solve_fields(task)
    assert row["prompt"] == get_format("plain").solve_prompt("induction", fields)


def test_score_is_one_batch_per_task_type(
    executor: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = create_dataset("deduction", 8, seed=0, executor=executor).rows
    rows += create_dataset("induction", 8, seed=0, executor=executor).rows
    completions = [_wrap(reference_answer(r)) for r in rows]
    calls: list[int] = []
    real = executor.run_batch
    monkeypatch.setattr(executor, "run_batch", lambda jobs: calls.append(len(jobs)) or real(jobs))
    with Scorer(executor=executor) as scorer:
        assert scorer.score(rows, completions) == [1.0] * 16
    # Plain-value deduction answers are judged in the trusted process (no sandbox job at all);
    # the 8 induction programs go to the sandbox in one batch.
    assert [c for c in calls if c] == [8]


def test_judge_gives_each_answer_its_reason(executor: Executor) -> None:
    rows = create_dataset("deduction", 4, seed=9, executor=executor).rows
    wrong = "```output\n'certainly not this'\n```"
    completions: list[Any] = [
        _wrap(reference_answer(rows[0])),
        _wrap(wrong),
        "I forgot the tags",
        [{"role": "assistant", "content": _wrap(reference_answer(rows[3]))}],  # TRL chat format
    ]
    with Scorer(executor=executor) as scorer:
        got = scorer.judge(rows, completions)
    assert [(j.reward, j.reason, j.correct) for j in got] == [
        (1.0, "correct", True), (-0.5, "wrong_value", False), (-1.0, "no_answer", False),
        (1.0, "correct", True)]
    assert got[1].answer == "'certainly not this'"


def test_scoring_mistakes_raise_clear_errors(executor: Executor) -> None:
    rows = create_dataset("deduction", 2, seed=0, executor=executor).rows
    with Scorer(executor=executor) as scorer:
        with pytest.raises(AZRConfigError, match="one completion per row"):
            scorer.score(rows, ["x"])
        with pytest.raises(AZRConfigError, match="format 'plain'"):
            scorer.score([{**rows[0], "format": "plain"}], ["x"])
        with pytest.raises(AZRConfigError, match="'task' column"):
            scorer.score([{"prompt": "hi"}], ["x"])
    with pytest.raises(AZRConfigError, match="size must be"):
        create_dataset("deduction", 0)
    with pytest.raises(AZRConfigError, match="unknown task type"):
        create_dataset("telepathy", 1)


def test_module_level_score_uses_the_rows_format() -> None:
    task = Task("deduction", "def f(a):\n    return a + 1", ("1",), ("2",),
                encoded=[["int", "0x2"]])
    row = {"task": json.dumps(task.to_json()), "format": "r1"}
    result = score([row, row], [_wrap("```output\n2\n```"), _wrap("```output\n3\n```")])
    assert result == [1.0, -0.5] and not any(math.isnan(r) for r in result)


def test_to_hf_gives_a_datasets_dataset(executor: Executor) -> None:
    pytest.importorskip("datasets", reason="datasets not installed (pip install 'azr[trl]')")
    ds = create_dataset("abduction", 4, seed=1, executor=executor)
    hf = ds.to_hf()
    assert hf.num_rows == 4 and hf[2] == ds[2]


def test_equal_answers_to_one_task_are_judged_once(executor: Executor,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    row = create_dataset("abduction", 1, seed=8, executor=executor)[0]
    gold = reference_answer(row)
    group = [_wrap(gold), "thinking a lot</think>" + _wrap(gold), _wrap("```input\n'x'\n```"),
             "no answer", _wrap(gold) + "x" * 300_000]  # the last one is too long
    calls: list[int] = []
    real = executor.run_batch
    monkeypatch.setattr(executor, "run_batch", lambda jobs: calls.append(len(jobs)) or real(jobs))
    with Scorer(executor=executor) as scorer:
        got = scorer.judge([row] * len(group), group)
    assert [j.reason for j in got] == ["correct", "correct", got[2].reason, "no_answer",
                                       "completion_too_long"]
    # abduction: each distinct input (two here) is read in the trusted process, then one batch
    # of two sandbox jobs calls f on them
    assert [c for c in calls if c] == [2]
