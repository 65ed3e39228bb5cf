"""Scoring through the sandbox: gold answers pass, shuffled answers score near chance, the
prompts are the env's own, and answers that make the sandbox do the work are refused."""

from __future__ import annotations

import json
import random
from pathlib import Path

import gymnasium as gym
import pytest

import azr_env  # noqa: F401  (registers the env ids)
from azr_agents.cli import main
from azr_agents.evaluation.cruxeval_format import read_scored
from azr_agents.evaluation.suites import HumanEvalSuite, calls_program, make_suite
from azr_env.executor import Executor

SUBSET = 40


@pytest.fixture(scope="module")
def eval_executor() -> Executor:
    suites = [make_suite(n) for n in ("cruxeval-o", "humaneval")]
    with Executor(workers=2, preload=sorted({m for s in suites for m in s.preload()})) as ex:
        yield ex


def _crux_rows() -> list[dict[str, str]]:
    return [p.data for p in make_suite("cruxeval-o").problems(SUBSET)]


def _run_predictions(tmp_path: Path, suite: str, predictions: dict[str, list[str]]) -> dict:
    src, out = tmp_path / f"{suite}.json", tmp_path / f"{suite}-scored.json"
    src.write_text(json.dumps(predictions))
    assert main(["eval", "--suite", suite, "--predictions", str(src), "--out", str(out),
                 "--no-progress"]) == 0
    return read_scored(out)


@pytest.mark.parametrize("suite", ["cruxeval-o", "cruxeval-i"])
def test_gold_answers_all_pass_and_shuffled_near_chance(tmp_path: Path, suite: str) -> None:
    rows = _crux_rows()
    key = "output" if suite == "cruxeval-o" else "input"
    # cruxeval-i: CRUXEval's full-call form for half, our bare arguments for the other half
    gold = {r["id"]: [r[key] if i % 2 or key == "output" else f"f({r[key]})"]
            for i, r in enumerate(rows)}
    doc = _run_predictions(tmp_path, suite, gold)
    assert doc["pass_at_1"] == 100.0
    assert all(v == [True] for v in doc["raw_scored_generations"].values())
    answers = [v[0] for v in gold.values()]
    random.Random(0).shuffle(answers)
    shuffled = {k: [a] for k, a in zip(gold, answers, strict=True)}
    doc = _run_predictions(tmp_path, suite, shuffled)
    assert doc["pass_at_1"] <= 15.0, doc["pass_at_1"]


def test_prompt_is_the_env_prompt(eval_executor: Executor) -> None:
    suite = make_suite("cruxeval-i")
    problem = suite.problems(1)[0]
    env = gym.make("azr_env/SelfPlay-v0", executor=eval_executor)
    obs, _ = env.reset(options={"task": {"task_type": "abduction", "program": problem.data["code"],
                                         "input": problem.data["input"]}})
    assert suite.prompt(problem) == obs["prompt"]


def test_model_completion_is_parsed_like_training(eval_executor: Executor) -> None:
    suite = make_suite("cruxeval-o")
    problem = suite.problems(1)[0]
    right = f"<think>x</think> <answer>```output\n{problem.data['output']}\n```</answer>"
    answers = [suite.answer_of(right), suite.answer_of("no tags"), suite.answer_of(right + "!")]
    verdicts = suite.score(eval_executor, [(problem, a) for a in answers])
    assert [v.correct for v in verdicts] == [True, False, True]
    assert verdicts[1].reason == "malformed"


def test_output_prediction_calling_the_program_is_wrong(eval_executor: Executor) -> None:
    suite = make_suite("cruxeval-o")
    problem = suite.problems(1)[0]
    cheat = f"f({problem.data['input']})"
    assert calls_program(cheat, problem.data["code"])
    assert not calls_program("[(4, 1)]", problem.data["code"])
    verdict, = suite.score(eval_executor, [(problem, cheat)])
    assert not verdict.correct and verdict.reason == "calls_program"


def test_humaneval_canonical_pass_and_wrong_fail(eval_executor: Executor) -> None:
    suite = make_suite("humaneval")
    problems = suite.problems(10)
    canonical = [(p, p.data["canonical_solution"]) for p in problems]
    assert all(v.correct for v in suite.score(eval_executor, canonical))
    wrong = [(p, "    return None\n") for p in problems]
    assert not any(v.correct for v in suite.score(eval_executor, wrong))


def test_humaneval_full_function_completion(eval_executor: Executor) -> None:
    suite = make_suite("humaneval")
    problem = suite.problems(1)[0]
    full = ("def has_close_elements(numbers, threshold):\n"
            "    return any(abs(a - b) < threshold for i, a in enumerate(numbers)\n"
            "               for b in numbers[i + 1:])\n")
    completion = f"<think>x</think> <answer>```python\n{full}```</answer>"
    verdict, = suite.score(eval_executor, [(problem, suite.answer_of(completion))])
    assert verdict.correct


def test_humaneval_entry_named_f(eval_executor: Executor) -> None:
    """HumanEval/106's entry point is `f`: the harness's own `f` must not shadow it."""
    suite = HumanEvalSuite()
    problem = next(p for p in suite.problems() if p.data["entry_point"] == "f")
    good, bad = suite.score(eval_executor, [(problem, problem.data["canonical_solution"]),
                                            (problem, "    return []\n")])
    assert good.correct and not bad.correct
