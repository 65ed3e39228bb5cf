"""Which induction pairs the solver sees and which decide its reward.

The paper (and the reference) show the first half of the proposer's N pairs and hold out the
rest; a solver's program is right only if it reproduces the held-out pairs. These tests pin the
split for even and odd N, so that showing the held-out half, or rounding the shown half down,
fails here.
"""

from __future__ import annotations

import pytest
from env_helpers import MakeEnv, answer, block, induction, scripted_solver

from azr_env.task import INDUCTION, Task
from azr_env.tasks.induction import held_out, num_shown


def _words(n: int) -> list[str]:
    return [repr(f"w{i}") for i in range(n)]


@pytest.mark.parametrize(("n", "shown"), [(2, 1), (3, 2), (7, 4), (9, 5), (10, 5), (11, 6)])
def test_the_solver_sees_the_first_half_rounded_up_and_the_rest_is_held_out(
    n: int, shown: int
) -> None:
    words = _words(n)
    task = Task(INDUCTION, "def f(a):\n    return a", words, words,
                encoded=[f"tree{i}" for i in range(n)])
    assert num_shown(task) == shown
    inputs, trees = held_out(task)
    assert inputs == tuple(words[shown:])
    assert trees == tuple(f"tree{i}" for i in range(shown, n))


def _fits_only(words: list[str]) -> str:
    """A candidate program that is the identity on `words` and wrong on every other input."""
    return f"def f(a):\n    return a if a in ({', '.join(words)},) else 'nope'"


@pytest.mark.parametrize("n", [10, 7])
def test_through_the_env_shown_pairs_are_in_the_prompt_and_only_held_out_pairs_score(
    make_env: MakeEnv, n: int
) -> None:
    env = make_env("induction", solver=scripted_solver, induction_inputs=n)
    env.reset(seed=0)
    words = _words(n)
    _, _, *_, info = env.step(induction(words, "Echo the word back."))
    assert info["format_ok"] and info["task"]["inputs"] == words, info
    assert info["task"]["outputs"] == words  # the proposer was shown the identity (zero triplet)
    k = n - n // 2
    shown, hidden = words[:k], words[k:]

    obs, _ = env.reset()
    assert (obs["task_type"], obs["role"]) == ("induction", "solve")
    assert all(w in obs["prompt"] for w in shown)
    assert not any(w in obs["prompt"] for w in hidden), "a held-out pair leaked into the prompt"

    _, reward, *_, info = env.step(answer(block("python", _fits_only(shown))))
    assert reward == -0.5 and info["reason"] == "wrong_value", (
        "fitting only the shown pairs is wrong"
    )

    env.reset(options={"group": ("induction", "solve")})
    _, reward, *_, info = env.step(answer(block("python", _fits_only(hidden))))
    assert reward == 1.0, info  # the held-out pairs alone decide the score
