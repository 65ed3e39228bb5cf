"""Task sources: deterministic by seed, validated once, every source's gold scores 1.

The generator, CRUXEval, HumanEval and JSONL files each feed `create_dataset` and the solve envs;
for each (source, task type) the gold answers score 1 and the same answers shuffled across rows
score less.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from azr_env.buffers import TaskBuffers
from azr_env.dataset import create_dataset, reference_answer, task_of
from azr_env.errors import AZRConfigError
from azr_env.executor import Executor
from azr_env.sources import (
    GeneratorConfig,
    GeneratorSource,
    JsonlSource,
    TaskSupply,
    get_source,
)
from azr_env.sources.generator import generate
from azr_env.task import Task


def completion(row: dict[str, Any]) -> str:
    return f"Let me think.</think> <answer>\n{reference_answer(row)}\n</answer>"


SOURCES = [("generator", "deduction"), ("generator", "abduction"), ("generator", "induction"),
           ("cruxeval", "deduction"), ("cruxeval", "abduction"), ("humaneval", "deduction"),
           ("humaneval", "abduction"), ("humaneval", "induction")]


def _jsonl_of_generated_tasks(folder: Path, executor: Executor) -> str:
    """A JSONL file of {program, inputs, outputs, message} lines, as a user would write one."""
    path = folder / "tasks.jsonl"
    lines = []
    for task_type in ("deduction", "induction"):
        for row in create_dataset(task_type, 12, seed=40, executor=executor):
            task = task_of(row)
            lines.append(json.dumps({"program": task.program, "inputs": list(task.inputs),
                                     "outputs": list(task.outputs), "message": task.message}))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize(("source", "task_type"), [*SOURCES, ("jsonl", "deduction"),
                                                    ("jsonl", "abduction"), ("jsonl", "induction")])
def test_gold_scores_one_and_shuffled_answers_score_less(
    executor: Executor, tmp_path: Path, source: str, task_type: str
) -> None:
    from azr_env.dataset import Scorer

    if source == "jsonl":
        source = _jsonl_of_generated_tasks(tmp_path, executor)
    rows = create_dataset(task_type, 12, seed=3, source=source, executor=executor).rows
    with Scorer(executor=executor) as scorer:
        gold = scorer.judge(rows, [completion(r) for r in rows])
        shuffled = scorer.score(rows, [completion(r) for r in rows[1:] + rows[:1]])
    assert [(j.reward, j.reason) for j in gold] == [(1.0, "correct")] * len(rows)
    assert sum(shuffled) / len(shuffled) < 0.5, shuffled


def test_generator_is_deterministic_by_key_and_seed(executor: Executor) -> None:
    config = GeneratorConfig(depth=2)
    assert generate(7, config, 3) == generate(7, config, 3)
    assert generate(7, config) != generate(8, config)
    first = create_dataset("deduction", 6, seed=11, executor=executor)
    again = create_dataset("deduction", 6, seed=11, executor=executor)
    other = create_dataset("deduction", 6, seed=500, executor=executor)
    assert first.rows == again.rows
    assert {r["task_id"] for r in first}.isdisjoint(r["task_id"] for r in other)
    # reasoning-gym's random access: row idx of seed s is the generator's key s + idx.
    source = GeneratorSource()
    assert [r["origin"] for r in first] == [f"generator/{11 + i}" for i in range(6)]
    assert task_of(first[2]).program == source.candidate("deduction", 13).program


def test_finite_sources_are_shuffled_by_seed(executor: Executor) -> None:
    a = create_dataset("abduction", 5, seed=0, source="cruxeval", executor=executor)
    b = create_dataset("abduction", 5, seed=0, source="cruxeval", executor=executor)
    c = create_dataset("abduction", 5, seed=1, source="cruxeval", executor=executor)
    assert a.rows == b.rows and a.rows != c.rows
    assert all(r["origin"].startswith("cruxeval/sample_") for r in a)


def test_generator_knobs_shape_the_programs() -> None:
    straight = GeneratorConfig(depth=0, steps=5)
    programs = [generate(k, straight)[0] for k in range(60)]
    assert not any(re.search(r"^\s+(for|if) ", p, re.M) for p in programs)
    nested = GeneratorConfig(depth=2, steps=6, operations=["loops", "branches", "arithmetic",
                                                           "builtins"])
    assert any("\n            " in generate(k, nested)[0] for k in range(60))  # two levels deep
    strings = GeneratorConfig(data_types=["str"])
    for k in range(30):
        program, inputs, _ = generate(k, strings)
        assert program.startswith("def f(s") and inputs[0].startswith("'")
    dicts = GeneratorConfig(data_types=["dict"], operations=["comprehensions", "methods"])
    for k in range(30):
        program, inputs, _ = generate(k, dicts)
        assert (
            inputs[0].startswith("{") and "sum(" not in program and " for item in " not in program
        )


@pytest.mark.parametrize("knobs", [{"depth": -1}, {"steps": 0}, {"operations": ["teleport"]},
                                   {"data_types": "int"}, {"data_types": ["dict"],
                                                           "operations": ["arithmetic"]}])
def test_generator_config_errors_name_the_knob(knobs: dict[str, Any]) -> None:
    with pytest.raises(AZRConfigError, match=next(iter(knobs)) if "operations" not in knobs
                       or "data_types" not in knobs else "no generator operation"):
        GeneratorSource(**knobs)


def test_validation_runs_once_per_task(executor: Executor, monkeypatch: pytest.MonkeyPatch) -> None:
    supply = TaskSupply(get_source("generator"), executor)
    calls: list[int] = []
    real = executor.run_batch

    def counting(jobs: Any) -> Any:
        calls.append(len(jobs))
        return real(jobs)

    monkeypatch.setattr(executor, "run_batch", counting)
    first = supply.validate("deduction", list(range(10)))
    assert len(calls) == 1 and calls[0] == 10  # one batch, one job per task
    again = supply.validate("deduction", [3, 4, 5])
    assert len(calls) == 1 and [s.task for s in again] == [s.task for s in first[3:6]]


def test_jsonl_sources_read_run_buffers_and_plain_files(executor: Executor, tmp_path: Path) -> None:
    buffers = TaskBuffers()
    buffers["deduction"].add(Task("deduction", "def f(a):\n    return a * 3", ("4",), ("12",),
                                  step=2))
    buffers.save(tmp_path / "buffers.jsonl")
    run = get_source(tmp_path / "buffers.jsonl")
    assert isinstance(run, JsonlSource) and set(run.task_types) == {"deduction", "abduction",
                                                                     "induction"}
    rows = create_dataset("deduction", 2, source=str(tmp_path / "buffers.jsonl"),
                          executor=executor).rows
    assert {task_of(r).program for r in rows} == {
        "def f(a):\n    return a",
        "def f(a):\n    return a * 3",
    }

    plain = tmp_path / "mine.jsonl"
    lines = [{"program": "def f(x):\n    return x[::-1]", "input": "'abc'", "output": "'cba'"},
             {"program": "def f(x):\n    return x + 1", "input": "1", "output": "3"},  # wrong
             {"program": "def f(x):\n    return -x", "inputs": ["1", "2", "3", "4"]}]
    plain.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    source = get_source(str(plain))
    assert source.size("deduction") == 2 and source.size("induction") == 1
    found = create_dataset("abduction", 1, source=str(plain), executor=executor)
    assert len(found) == 1 and found.skipped == {"stated_output_differs": 1}
    with pytest.raises(AZRConfigError, match="only 1 valid"):
        create_dataset("abduction", 2, source=str(plain), executor=executor)


def test_jsonl_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"program": "def f(a):\\n    return a", "input": "1"}\n{"program": 3}\n')
    with pytest.raises(AZRConfigError, match=r"bad.jsonl:2"):
        get_source(str(bad))
    with pytest.raises(AZRConfigError, match="no JSONL task file"):
        get_source(str(tmp_path / "missing.jsonl"))
    with pytest.raises(AZRConfigError, match="unknown task source"):
        get_source("cruxevil")
    with pytest.raises(AZRConfigError, match="has no induction tasks"):
        create_dataset("induction", 1, source="cruxeval")


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_generated_programs_pass_the_static_checks_they_skip(depth: int) -> None:
    """The generator is `prechecked`: validation skips the static checks for its programs."""
    from azr_env.tasks import TaskSettings, get_task_type
    from azr_env.tasks.base import Proposal

    settings = TaskSettings()
    config = GeneratorConfig(depth=depth, steps=6)
    for key in range(300):
        program, inputs, message = generate(key, config, 10)
        for task_type in ("deduction", "induction"):
            proposal = Proposal(program, inputs if task_type == "induction" else inputs[:1],
                                message if task_type == "induction" else "")
            assert get_task_type(task_type).static_check(proposal, settings) is None, program


def test_generator_induction_tasks_follow_the_env_option(executor: Executor) -> None:
    for source in ("generator", {"name": "generator", "depth": 0}):
        rows = create_dataset("induction", 2, source=source, config={"induction_inputs": 4},
                              executor=executor).rows
        assert [len(task_of(r).inputs) for r in rows] == [4, 4]
