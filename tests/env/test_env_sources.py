"""Solve envs draw from task sources; reset info hides gold answers unless asked; the vector env
poses a batch of your tasks and meets malformed batches as the single env meets bad text."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from env_helpers import MakeEnv, answer, block

from azr_env.dataset import create_dataset, task_of
from azr_env.errors import AZRConfigError
from azr_env.executor import Executor


def _vec(executor: Executor, env_id: str, n: int = 3, **kwargs: Any) -> Any:
    return gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point",
                        executor=executor, **kwargs)


def test_solve_env_with_a_source_poses_fresh_tasks(make_env: MakeEnv) -> None:
    env = make_env("deduction", "solve", source="generator")
    ids = set()
    for seed in range(20):
        _, info = env.reset(seed=seed)
        ids.add(info["task"]["id"])
    assert len(ids) == 20  # was one identity task forever without a source
    _, first = env.reset(seed=5)
    _, again = env.reset(seed=5)
    assert first["task"] == again["task"]


@pytest.mark.parametrize(("task_type", "hidden", "shown"), [
    ("deduction", {"outputs", "encoded"}, {"program", "input"}),
    ("abduction", {"inputs", "encoded"}, {"program", "output"}),
    ("induction", {"program", "inputs", "outputs"}, {"pairs", "message"}),
])
def test_reset_info_hides_gold_answers_unless_asked(
    make_env: MakeEnv, task_type: str, hidden: set[str], shown: set[str]
) -> None:
    env = make_env(task_type, "solve", source="generator")
    _, info = env.reset(seed=0)
    assert shown <= set(info["task"]) and not hidden & set(info["task"])
    revealing = make_env(task_type, "solve", source="generator", reveal_answers=True)
    _, full = revealing.reset(seed=0)
    assert full["task"]["id"] == info["task"]["id"] and hidden <= set(full["task"])


def test_generated_task_round_trips_through_reset_options(make_env: MakeEnv,
                                                          executor: Executor) -> None:
    row = create_dataset("abduction", 1, seed=4, executor=executor)[0]
    task = task_of(row)
    env = make_env("abduction", "solve")
    obs, info = env.reset(options={"task": task.to_json()})
    assert obs["prompt"] == row["prompt"] and info["task"]["id"] == task.id
    _, reward, *_ = env.step(answer(block("input", task.input)))
    assert reward == 1.0


def test_a_source_must_serve_every_solve_group(make_env: MakeEnv) -> None:
    with pytest.raises(AZRConfigError, match="has no \\['induction'\\] tasks"):
        make_env("induction", "solve", source="cruxeval")
    make_env("induction", "propose", source="cruxeval")  # no solve group: nothing to serve


def test_vector_env_poses_a_batch_of_tasks(executor: Executor) -> None:
    venv = _vec(executor, "azr_env/Deduction-Solve-v0", source="generator")
    tasks = [{"program": "def f(a):\n    return a * 2", "input": "3"}, None,
             {"program": "def f(a):\n    return a + 1", "input": "1", "output": "2"}]
    _obs, infos = venv.reset(seed=0, options={"tasks": tasks})
    assert infos["task"]["program"][0] == tasks[0]["program"]
    assert infos["task"]["program"][2] == tasks[2]["program"]
    assert "output" not in infos["task"]
    _, rewards, *_ , infos = venv.step([answer(block("output", "6")), "junk",
                                        answer(block("output", "2"))])
    assert rewards.tolist() == [1.0, -1.0, 1.0]
    for bad, match in ([tasks[:2], "list of 3 task dicts"], ("x", "list of 3 task dicts"),
                       ([None, None, {"program": "def f(a):\n    return a", "input": "1",
                                      "output": "2"}], r"options\['tasks'\]\[2\]"),
                       ([None, {"program": "f ="}, None], r"options\['tasks'\]\[1\] needs")):
        with pytest.raises(AZRConfigError, match=match):
            venv.reset(options={"tasks": bad})
    with pytest.raises(AZRConfigError, match="unknown reset option"):
        venv.reset(options={"task": tasks[0]})
    venv.close()


@pytest.mark.parametrize("actions", [None, "abc", b"abc", {"a": 1}, 3, ["x"], ["x"] * 4])
def test_vector_env_refuses_malformed_batches_with_one_clear_error(
    executor: Executor, actions: Any
) -> None:
    venv = _vec(executor, "azr_env/Deduction-Solve-v0")
    venv.reset(seed=0)
    with pytest.raises(AZRConfigError, match="step needs"):
        venv.step(actions)
    venv.close()


def test_vector_env_scores_non_text_items_minus_one_with_a_reason(executor: Executor) -> None:
    venv = _vec(executor, "azr_env/Deduction-Solve-v0", n=4)
    venv.reset(seed=0)
    items = np.array([None, b"bytes", 3, answer(block("output", "'Hello world'"))], dtype=object)
    _, rewards, *_ , infos = venv.step(items)
    assert rewards.tolist() == [-1.0, -1.0, -1.0, 1.0]
    assert infos["final_info"]["reason"].tolist() == ["not_text"] * 3 + ["correct"]
    venv.close()


def test_a_solve_only_env_stuck_on_its_zero_task_warns_and_names_the_fix(
    make_env: MakeEnv, executor: Executor
) -> None:
    import warnings

    env = make_env("abduction", "solve")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env.reset(options={"task": {"program": "def f(a):\n    return a", "input": "1"}})
    with pytest.warns(UserWarning, match="source='generator'"):
        env.reset(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env.reset(seed=1)  # once per env
        make_env("abduction", "solve", source="cruxeval").reset(seed=0)
        venv = _vec(executor, "azr_env/Abduction-Solve-v0", source="generator")
        venv.reset(seed=0)
        venv.close()
    venv = _vec(executor, "azr_env/Abduction-Solve-v0")
    with pytest.warns(UserWarning, match="no proposer and no task source"):
        venv.reset(seed=0)
    venv.close()


@pytest.mark.parametrize("source", ["generator", "humaneval"])
def test_check_env_passes_with_a_source(executor: Executor, source: str) -> None:
    from gymnasium.utils.env_checker import check_env

    env = gym.make("azr_env/Induction-Solve-v0", executor=executor, source=source)
    check_env(env.unwrapped)
    env.close()


def test_vector_env_draws_a_finite_source_without_repeats(executor: Executor) -> None:
    venv = _vec(executor, "azr_env/Deduction-Solve-v0", n=16, source="cruxeval")
    for seed in range(3):
        _, infos = venv.reset(seed=seed)
        assert len(set(infos["task"]["id"])) == 16
    venv.close()
