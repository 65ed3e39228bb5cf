"""The Gymnasium env: the API contract (`check_env` on every id), rewards, garbage, options."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import gymnasium as gym
import pytest
from env_helpers import MakeEnv, answer, block, induction, scripted_solver, triplet
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import azr_env
from azr_env.buffers import TaskBuffers
from azr_env.config import EnvConfig
from azr_env.errors import AZRConfigError
from azr_env.executor import Executor

DOUBLE = "def f(x):\n    return x * 2"


@pytest.mark.parametrize("env_id", azr_env.ENV_IDS)
@pytest.mark.parametrize("with_solver", [False, True])
def test_check_env_on_every_registered_id(
    env_id: str, with_solver: bool, executor: Executor
) -> None:
    kwargs: dict[str, Any] = {"executor": executor}
    if with_solver:
        kwargs["solver"] = scripted_solver
    env = gym.make(env_id, **kwargs)
    check_env(env.unwrapped)
    env.close()
    assert executor.started  # a shared executor survives the env's close


def test_import_is_light_and_never_imports_torch() -> None:
    code = (
        "import sys, azr_env, gymnasium\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'azr_env.env' not in sys.modules\n"
        "print(sorted(i for i in gymnasium.registry if i.startswith('azr_env/')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert sorted(azr_env.ENV_IDS) == json.loads(out.stdout.replace("'", '"'))


def test_selfplay_cycles_the_six_groups_and_a_seed_restarts_the_cycle(make_env: MakeEnv) -> None:
    env = make_env()
    seen = [env.reset(seed=0)[0]] + [env.reset()[0] for _ in range(6)]
    groups = [(o["task_type"], o["role"]) for o in seen]
    assert groups[:6] == [(t, r) for r in ("propose", "solve")
                          for t in ("deduction", "abduction", "induction")]
    assert groups[6] == groups[0]
    assert env.reset(seed=0)[0] == seen[0]


def test_zero_tasks_are_solvable_and_scored(make_env: MakeEnv) -> None:
    env = make_env("deduction", "solve")
    obs, info = env.reset(seed=1)
    assert "'Hello world'" in obs["prompt"]
    _, reward, terminated, truncated, info = env.step(answer(block("output", '"Hello world"')))
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["accuracy"] == 1.0 and info["format_ok"] and info["reason"] == "correct"
    env.reset()
    _, reward, *_, info = env.step(answer(block("output", "'Hello'")))
    assert reward == -0.5 and info["reason"] == "wrong_value"
    env.reset()
    _, reward, *_, info = env.step(answer("no block here"))
    assert reward == -1.0 and info["reason"] == "no_output_block"


def test_valid_proposal_joins_the_buffer_and_is_solved_next(make_env: MakeEnv) -> None:
    env = make_env(["deduction"], solver=scripted_solver)
    env.reset(seed=0)
    _, reward, *_, info = env.step(triplet(DOUBLE, "21"))
    assert info["format_ok"] and info["added_to_buffer"] and info["learnability_estimated"]
    assert info["solve_rate"] == 0.0 and info["learnability"] == 0.0 and reward == 0.0
    assert info["task"]["outputs"] == ["42"] and info["proposal"]["inputs"] == ["21"]
    assert len(env.buffers["deduction"]) == 2
    obs, reset_info = env.reset()  # solve step: the newest task comes first
    assert obs["role"] == "solve" and reset_info["task"]["program"] == DOUBLE
    _, reward, *_ = env.step(answer(block("output", "42")))
    assert reward == 1.0


def test_learnability_uses_n_solver_attempts(make_env: MakeEnv) -> None:
    calls: list[int] = []

    def solver(prompts: list[str]) -> list[str]:
        calls.append(len(prompts))
        return scripted_solver(prompts)

    env = make_env("abduction", "propose", solver=solver,
                   rewards={"mode": "paper", "num_samples": 4})
    env.reset(seed=0)
    _, reward, *_, info = env.step(triplet("def f(s):\n    return s", "'Hello world'"))
    assert calls == [4]
    assert info["solve_rate"] == 0.5 and info["learnability"] == 0.5 and reward == 0.5


def test_without_solver_propose_scores_validity_only(make_env: MakeEnv) -> None:
    env = make_env("deduction", "propose", rewards={"mode": "reference", "num_samples": 8})
    env.reset(seed=0)
    _, reward, *_, info = env.step(triplet(DOUBLE, "1"))
    assert reward == 0.0 and info["reason"] == "valid_unscored_no_solver"
    assert info["learnability_estimated"] is False
    env.reset()
    _, reward, *_, info = env.step(triplet("import random\n" + DOUBLE, "1"))
    assert reward == -1.0 and info["reason"] == "forbidden_module"


def test_induction_round_trip(make_env: MakeEnv) -> None:
    env = make_env("induction", solver=scripted_solver)
    obs, _ = env.reset(seed=0)
    assert obs["role"] == "propose"
    inputs = [repr(f"w{i}") for i in range(10)]
    _, _, *_, info = env.step(induction(inputs, "Echo the word back."))
    assert info["format_ok"], info
    assert info["task"]["outputs"] == inputs
    obs, _reset_info = env.reset()
    assert "'w4'" in obs["prompt"] and "'w5'" not in obs["prompt"]  # second half held out
    _, reward, *_, info = env.step(answer(block("python", "def f(a):\n    return a")))
    assert reward == 1.0, info
    env.reset(options={"group": ("induction", "solve")})
    _, reward, *_, info = env.step(answer(block("python", "def f(a):\n    return a + 'x'")))
    assert reward == -0.5 and info["reason"] == "wrong_value"


def test_induction_message_must_not_contain_the_program(make_env: MakeEnv) -> None:
    env = make_env("induction", "propose")
    env.reset(seed=0)
    program = env.episode.context.program.program  # type: ignore[union-attr]
    _, reward, *_, info = env.step(induction([str(i) for i in range(10)], f"Here: {program}"))
    assert reward == -1.0 and info["reason"] == "message_contains_program"
    env.reset()
    _, _, *_, info = env.step(induction(["1"] * 9, "hi"))
    assert info["reason"] == "wrong_number_of_inputs"


GARBAGE = [
    "", " ", "\x00" * 100, "<answer>", "<answer></answer>", "<answer><answer>```python",
    "```python\ndef f(a): return a\n```", "\udc80\udcff" * 50, "x" * 3_000_000,
    "<answer>```python\n" + "(" * 5000 + "\n```\n```input\n1\n```</answer>",
    triplet("def f(a):\n    while True: pass", "1"),
    triplet("def f(a):\n    return open('/etc/passwd').read()", "1"),
    triplet("import os\ndef f(a):\n    return os.fork()", "1"),
    triplet("def f(a):\n    return 'x' * 10**9", "1"),
    triplet("def f(a):\n    return __import__('time').time()", "1"),
    triplet("def f(a):\n    return a", "1), print(2"),
    triplet("def g(a):\n    return a", "1"),
    triplet("def f():\n    return 1", ""),
]


@pytest.mark.parametrize("action", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_actions_get_a_penalty_and_a_reason(make_env: MakeEnv, action: str) -> None:
    env = make_env("deduction", "propose")
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(action)
    assert reward == -1.0 and terminated and not truncated
    assert isinstance(info["reason"], str) and info["reason"] not in ("valid", "infra")
    assert len(env.buffers["deduction"]) == 1


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(codec=None), max_size=300), group=st.integers(0, 5))
def test_random_text_reward_in_range(make_env: MakeEnv, text: str, group: int) -> None:
    env = _shared_env(make_env)
    env.reset(seed=group)
    for _ in range(group):
        env.reset()
    _, reward, terminated, truncated, info = env.step(text)
    assert -1.0 <= reward <= 1.0 and terminated and not truncated
    assert info["reason"]


_ENVS: dict[int, Any] = {}


def _shared_env(make_env: MakeEnv) -> Any:
    key = id(make_env)
    if key not in _ENVS:
        _ENVS.clear()
        _ENVS[key] = make_env(solver=scripted_solver)
    return _ENVS[key]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"format": "nope"}, {"determinism": "sometimes"}, {"rewards": {"mode": "x"}},
        {"induction_inputs": 1}, {"banned_modules": [""]}, {"max_completion_chars": 0},
        {"solver": 3}, {"executor": "ex"}, {"render_mode": "human"}, {"unknown_option": 1},
        {"task_types": ["translation"]}, {"roles": ["judge"]}, {"buffers": {"cap": 0}},
        {"config": 5}, {"executor_options": {}},
    ],
)
def test_bad_constructor_arguments_raise_config_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(AZRConfigError):
        azr_env.env.AZREnv(**kwargs)  # type: ignore[attr-defined]


def test_config_from_dict_and_omegaconf(make_env: MakeEnv) -> None:
    from omegaconf import OmegaConf

    cfg = OmegaConf.structured(EnvConfig(format="plain"))
    cfg.rewards.mode = "reference"
    env = make_env("deduction", "solve", config=cfg)
    assert env.config.format == "plain" and env.config.rewards.mode == "reference"
    obs, _ = env.reset(seed=0)
    assert "<think>" not in obs["prompt"]
    _, reward, *_ = env.step("Answer: 'Hello world'")
    assert reward == 1.0


def test_reset_options_pose_a_task_and_reject_bad_ones(make_env: MakeEnv) -> None:
    env = make_env()
    task = {"task_type": "abduction", "program": DOUBLE, "input": "4", "output": "8"}
    obs, _info = env.reset(options={"task": task})
    assert obs["role"] == "solve" and obs["task_type"] == "abduction" and "8" in obs["prompt"]
    _, reward, *_ = env.step(answer(block("input", "x=4")))
    assert reward == 1.0
    for bad in [
        {**task, "output": "9"}, {"program": "def f(a): return a", "inputs": []},
        {"program": "def f(a):\n    import random\n    return a", "input": "1"},
        {"program": DOUBLE, "input": "1", "colour": "red"}, "not a dict",
    ]:
        with pytest.raises(AZRConfigError):
            env.reset(options={"task": bad})
    with pytest.raises(AZRConfigError):
        env.reset(options={"tsak": {}})


def test_buffers_persist_and_resume(make_env: MakeEnv, tmp_path: Any) -> None:
    env = make_env("deduction", "propose")
    env.reset(seed=0)
    env.step(triplet(DOUBLE, "'ab'"))
    path = tmp_path / "buffers.jsonl"
    env.buffers.save(path)
    loaded = TaskBuffers.load(path)
    assert [t.to_json() for t in loaded["deduction"]] == [
        t.to_json() for t in env.buffers["deduction"]
    ]
    resumed = make_env("deduction", "solve", buffers=loaded, reveal_answers=True)
    _obs, info = resumed.reset(seed=0)
    assert info["task"]["outputs"] == ["'abab'"]
    _, reward, *_ = resumed.step(answer(block("output", '"abab"')))
    assert reward == 1.0


def test_render_ansi(make_env: MakeEnv) -> None:
    env = make_env("deduction", "solve", render_mode="ansi")
    env.reset(seed=0)
    assert "Hello world" in (env.render() or "")
    env.step("junk")
    assert "-1.00" in (env.render() or "")


def test_a_task_from_a_steps_info_can_be_posed_again_as_it_is(executor: Any) -> None:
    env = gym.make("azr_env/Deduction-Solve-v0", executor=executor)
    _, info = env.reset(seed=0)
    posed, _ = env.reset(seed=1, options={"task": info["task"]})
    assert info["task"]["program"] in posed["prompt"]
    env.close()
