"""The native vector env: one shared core, batched phases, equal to B single envs on equal seeds."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from env_helpers import MakeEnv, answer, block, scripted_solver, triplet
from gymnasium.vector import AutoresetMode

import azr_env
from azr_env.errors import AZRConfigError
from azr_env.executor import Executor
from azr_env.task import Task

B = 4
ACTIONS = [
    triplet("def f(x):\n    return x * 2", "3"),
    "junk",
    triplet("def f(x):\n    return [x] * 3", "'a'"),
    triplet("import random\ndef f(x):\n    return x", "1"),
]
KEYS = ("reason", "format_ok", "solve_rate", "learnability", "added_to_buffer")


def _vec(executor: Executor, env_id: str = "azr_env/SelfPlay-v0", **kwargs: Any) -> Any:
    return gym.make_vec(env_id, num_envs=B, vectorization_mode="vector_entry_point",
                        executor=executor, solver=scripted_solver, **kwargs)


@pytest.mark.parametrize("env_id", azr_env.ENV_IDS)
def test_make_vec_on_every_id(executor: Executor, env_id: str) -> None:
    venv = _vec(executor, env_id)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, _ = venv.reset(seed=0)
    assert obs["prompt"].shape == (B,) and all(venv.single_observation_space.contains(
        {k: obs[k][i] for k in obs}) for i in range(B))
    _, rewards, terminated, truncated, infos = venv.step(["junk"] * B)
    assert rewards.tolist() == [-1.0] * B and terminated.all() and not truncated.any()
    assert list(infos["final_info"]["reason"]) == ["no_answer"] * B
    venv.close()


def test_vector_equals_single_envs_on_the_same_seeds(executor: Executor, make_env: MakeEnv) -> None:
    venv = _vec(executor, distinct_solve_tasks=False)
    obs, _ = venv.reset(seed=10)
    _, rewards, _, _, infos = venv.step(ACTIONS)
    for i in range(B):
        env = make_env(solver=scripted_solver)
        single_obs, _ = env.reset(seed=10 + i)
        assert single_obs["prompt"] == obs["prompt"][i]
        _, reward, *_, info = env.step(ACTIONS[i])
        assert reward == rewards[i]
        for key in KEYS:
            got = infos["final_info"][key][i]
            assert got == info[key] or (info[key] is None and np.isnan(got)), key
    assert venv.unwrapped.buffers.sizes()["deduction"] == 3
    venv.close()


def test_one_solver_call_for_all_attempts(executor: Executor) -> None:
    calls: list[int] = []

    def solver(prompts: list[str]) -> list[str]:
        calls.append(len(prompts))
        return scripted_solver(prompts)

    venv = gym.make_vec("azr_env/Deduction-Propose-v0", num_envs=B,
                        vectorization_mode="vector_entry_point", executor=executor, solver=solver)
    venv.reset(seed=0)
    venv.step([triplet(f"def f(x):\n    return x + {i}", "1") for i in range(B)])
    assert calls == [B * 8]
    venv.close()


def test_distinct_solve_tasks_without_repeats(executor: Executor) -> None:
    venv = _vec(executor, "azr_env/Deduction-Solve-v0")
    core = venv.unwrapped.core
    for i in range(B):
        core.buffers["deduction"].add(Task("deduction", f"def f(a):\n    return {i}", ("1",),
                                           (str(i),), encoded=[["int", hex(i)]], step=5))
    _, infos = venv.reset(seed=0)
    programs = list(infos["task"]["program"])
    assert len(set(programs)) == B
    _, rewards, *_ = venv.step([answer(block("output", p.split()[-1])) for p in programs])
    assert rewards.tolist() == [1.0] * B
    venv.close()


def test_samples_per_prompt_blocks_share_one_episode(executor: Executor) -> None:
    for env_id in ("azr_env/Deduction-Propose-v0", "azr_env/Deduction-Solve-v0"):
        venv = _vec(executor, env_id, samples_per_prompt=2)
        for task in range(3):
            venv.unwrapped.buffers["deduction"].add(
                Task("deduction", f"def f(a):\n    return {task}", ("1",), (str(task),),
                     encoded=[["int", hex(task)]], step=1))
        obs, infos = venv.reset(seed=0)
        prompts = list(obs["prompt"])
        assert prompts[0] == prompts[1] and prompts[2] == prompts[3] and prompts[0] != prompts[2]
        if env_id.endswith("Solve-v0"):
            assert infos["task"]["id"][0] == infos["task"]["id"][1] != infos["task"]["id"][2]
        obs, *_ = venv.step(["junk"] * B)  # the autoreset poses shared episodes too
        assert obs["prompt"][0] == obs["prompt"][1] and obs["prompt"][2] == obs["prompt"][3]
        venv.close()
    with pytest.raises(AZRConfigError, match="samples_per_prompt"):
        _vec(executor, samples_per_prompt=3)


def test_buffers_step_is_the_step_every_env_records_tasks_at(executor: Executor) -> None:
    venv = _vec(executor, "azr_env/Deduction-Propose-v0")
    venv.reset(seed=0)
    venv.step([triplet(f"def f(x):\n    return x + {i}", "1") for i in range(B)])
    own = {t.step for t in venv.unwrapped.buffers["deduction"].tasks if t.step >= 0}
    assert own == {0}  # the env's own count: its first step
    venv.unwrapped.buffers.step = 7
    venv.step([triplet(f"def f(x):\n    return x * {i + 2}", "1") for i in range(B)])
    steps = [t.step for t in venv.unwrapped.buffers["deduction"].tasks]
    assert steps[-B:] == [7] * B
    venv.close()


def test_state_dict_resumes_the_vector_env_exactly(executor: Executor) -> None:
    def pose(venv: Any) -> list[str]:
        return list(venv.reset()[0]["prompt"])

    first = _vec(executor, "azr_env/SelfPlay-v0")
    first.reset(seed=3)
    first.step(["junk"] * B)
    state = first.unwrapped.state_dict()
    expected = [pose(first) for _ in range(6)]
    second = _vec(executor, "azr_env/SelfPlay-v0", buffers=first.unwrapped.buffers)
    second.reset(seed=99)  # a different stream, replaced by the saved one
    second.unwrapped.load_state_dict(state)
    assert [pose(second) for _ in range(6)] == expected
    with pytest.raises(AZRConfigError, match="sub-envs"):
        gym.make_vec("azr_env/SelfPlay-v0", num_envs=2, vectorization_mode="vector_entry_point",
                     executor=executor).unwrapped.load_state_dict(state)
    first.close()
    second.close()


def test_state_dict_resumes_the_single_env_exactly(make_env: MakeEnv) -> None:
    first = make_env()
    first.reset(seed=5)
    first.step("junk")
    state = first.state_dict()
    expected = [first.reset()[0]["prompt"] for _ in range(6)]
    second = make_env(buffers=first.buffers)
    second.load_state_dict(state)
    assert [second.reset()[0]["prompt"] for _ in range(6)] == expected
