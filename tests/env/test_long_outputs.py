"""`EnvConfig.long_outputs="unsolvable"`: a proposal whose output is too long stays, as in the
reference, as a task no answer solves (`azr_env.tasks.long_outputs`)."""

from __future__ import annotations

import pytest
from env_helpers import MakeEnv, answer, block, induction, triplet

from azr_env.errors import AZRConfigError
from azr_env.executor.checks import is_unsolvable

LONG = "def f(a):\n    return a * 1500"


def test_by_default_a_too_long_output_makes_the_proposal_invalid(make_env: MakeEnv) -> None:
    env = make_env("deduction", "propose")
    env.reset(seed=0)
    _, reward, *_, info = env.step(triplet(LONG, "'x'"))
    assert not info["format_ok"] and info["reason"] == "output_too_long", info
    assert reward == -1.0


@pytest.mark.parametrize("task_type", ["deduction", "abduction"])
def test_unsolvable_keeps_the_task_and_no_answer_solves_it(
    make_env: MakeEnv, task_type: str
) -> None:
    env = make_env(task_type, long_outputs="unsolvable", rewards={"mode": "reference"})
    env.reset(seed=0)
    _, reward, *_, info = env.step(triplet(LONG, "'x'"))
    assert info["format_ok"] and info["added_to_buffer"], info
    assert reward == 0.0  # no solver here: valid, learnability not estimated
    task = info["task"]
    assert is_unsolvable(task["encoded"][0])
    shown = task["outputs"][0]
    assert "over 1000 characters" in shown
    # Solve turns draw the latest task first: this one (posing it by hand would re-validate it).
    solve = make_env(task_type, "solve", long_outputs="unsolvable",
                     buffers=env.unwrapped.buffers)
    solve.reset(seed=0)
    # Neither the shown text, nor the true value (the sandbox refuses it), nor anything else.
    attempts = [shown, "'" + "x" * 1500 + "'", "'x'"] if task_type == "deduction" else [
        "'x'", "'y'"]
    kind = "output" if task_type == "deduction" else "input"
    for attempt in attempts:
        obs, _ = solve.reset()
        assert "a * 1500" in obs["prompt"]
        _, reward, *_, info = solve.step(answer(block(kind, attempt)))
        assert info["accuracy"] == 0.0 and reward == -0.5, (attempt, info)


def test_an_induction_pair_with_a_long_output_cannot_be_reproduced(make_env: MakeEnv) -> None:
    env = make_env("induction", "propose", long_outputs="unsolvable", induction_inputs=2)
    env.reset(seed=0)
    # The proposer is shown the identity: a long string input gives a long output.
    _, _, *_, info = env.step(induction(["'a'", "'" + "b" * 1200 + "'"], "Echo it back."))
    assert info["format_ok"], info
    encoded = info["task"]["encoded"]
    assert not is_unsolvable(encoded[0]) and is_unsolvable(encoded[1])
    solve = make_env("induction", "solve", long_outputs="unsolvable",
                     buffers=env.unwrapped.buffers)
    obs, _ = solve.reset(seed=0)
    assert "Echo it back." in obs["prompt"]
    _, _, *_, verdict = solve.step(answer(block("python", "def f(a):\n    return a")))
    assert verdict["accuracy"] == 0.0, verdict


def test_long_outputs_is_checked(make_env: MakeEnv) -> None:
    with pytest.raises(AZRConfigError, match="long_outputs"):
        make_env("deduction", long_outputs="truncate")
