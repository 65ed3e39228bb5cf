"""The prompt-length cap (`azr_env.prompt_cap`): proposers' references are drawn again, then
fewer are shown; over-long solve tasks are swapped for fitting ones of their draw."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from azr_env.config import EnvConfig
from azr_env.core import SelfPlayCore
from azr_env.errors import AZRConfigError
from azr_env.executor import Executor
from azr_env.prompt_cap import REDRAWS, fill_from
from azr_env.task import Task

PAD = "#" + "x" * 3000  # a long comment makes a long program


def _task(i: int, long: bool) -> Task:
    body = f"def f(a):\n    {PAD if long else ''}\n    return {i}\n"
    return Task("deduction", body, ("1",), (str(i),), encoded=[["int", hex(i)]], step=3)


def _config(references: int) -> EnvConfig:
    from azr_env.buffers import BufferConfig

    return EnvConfig(buffers=BufferConfig(num_references=references, zero=False))


def _filled(executor: Executor, references: int, long: int, short: int) -> SelfPlayCore:
    core = SelfPlayCore(_config(references), executor=executor, task_types=["deduction"])
    for i in range(long):
        core.buffers["deduction"].add(_task(i, long=True))
    for i in range(long, long + short):
        core.buffers["deduction"].add(_task(i, long=False))
    return core


def test_without_a_cap_long_references_are_shown(executor: Executor) -> None:
    core = _filled(executor, references=2, long=6, short=2)
    shown = [core.pose_propose("deduction", np.random.default_rng(s)) for s in range(5)]
    assert any(PAD in e.prompt for e in shown)


def test_an_over_long_proposer_prompt_is_posed_again_with_fitting_references(
    executor: Executor,
) -> None:
    core = _filled(executor, references=2, long=6, short=2)
    cap = 2500 + len(
        core.pose_propose("deduction", np.random.default_rng(0)).prompt.replace(PAD, "")
    )
    core.prompt_fits = lambda p: len(p) <= cap
    for seed in range(20):
        episode = core.pose_propose("deduction", np.random.default_rng(seed))
        assert len(episode.prompt) <= cap and PAD not in episode.prompt
        assert episode.context is not None
        assert all(PAD not in t.program for t in episode.context.references)


def test_references_are_dropped_one_at_a_time_when_no_draw_of_k_fits(executor: Executor) -> None:
    core = _filled(executor, references=3, long=2, short=1)  # every draw of 3 holds a long one
    core.prompt_fits = lambda p: PAD not in p
    episode = core.pose_propose("deduction", np.random.default_rng(0))
    assert episode.context is not None and len(episode.context.references) == 1
    assert PAD not in episode.context.references[0].program


def test_a_proposer_prompt_that_never_fits_is_a_config_error(executor: Executor) -> None:
    core = _filled(executor, references=1, long=1, short=1)
    calls: list[str] = []
    core.prompt_fits = lambda p: bool(calls.append(p))  # nothing fits, not even no references
    with pytest.raises(AZRConfigError, match="max_prompt_tokens"):
        core.pose_propose("deduction", np.random.default_rng(0))
    assert len(calls) == REDRAWS * 2


def test_over_long_solve_tasks_are_swapped_for_fitting_ones_of_the_draw(executor: Executor) -> None:
    core = _filled(executor, references=0, long=4, short=4)
    core.prompt_fits = lambda p: PAD not in p
    tasks = core.draw_solve_tasks("deduction", np.random.default_rng(0), 8)
    assert len(tasks) == 8 and all(PAD not in t.program for t in tasks)
    assert len({t.id for t in tasks}) < 8  # fitting tasks repeat in place of the long ones


def test_a_solve_draw_with_no_fitting_task_is_drawn_again_then_an_error(executor: Executor) -> None:
    core = _filled(executor, references=0, long=3, short=1)
    core.prompt_fits = lambda p: PAD not in p
    got = [core.draw_solve_tasks("deduction", np.random.default_rng(s), 1)[0] for s in range(10)]
    assert all(PAD not in t.program for t in got)
    only_long = _filled(executor, references=0, long=3, short=0)
    only_long.prompt_fits = lambda p: PAD not in p
    with pytest.raises(AZRConfigError, match="solve prompt fits"):
        only_long.draw_solve_tasks("deduction", np.random.default_rng(0), 2)


def test_fill_from_keeps_fitting_tasks_in_place() -> None:
    a, b, c = (_task(i, long=False) for i in range(3))
    out = fill_from([a, b, c], [True, False, True], [a, c], np.random.default_rng(0))
    assert out[0] is a and out[2] is c and out[1] in (a, c)


def test_the_vector_env_poses_only_fitting_prompts(executor: Executor) -> None:
    venv = gym.make_vec(
        "azr_env/Deduction-Solve-v0",
        num_envs=4,
        vectorization_mode="vector_entry_point",
        executor=executor,
        config=_config(0),
    )
    for i in range(6):
        venv.unwrapped.buffers["deduction"].add(_task(i, long=i < 3))
    venv.unwrapped.core.prompt_fits = lambda p: PAD not in p
    obs, _ = venv.reset(seed=0)
    assert all(PAD not in p for p in obs["prompt"])
    venv.close()
