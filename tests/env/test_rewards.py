"""Rewards: hand-computed cases for both modes, and properties of the composition."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azr_env.errors import AZRConfigError
from azr_env.rewards import (
    REWARD_MODES,
    RewardBreakdown,
    RewardConfig,
    accuracy_reward,
    compose_reward,
    learnability_reward,
    propose_reward,
    solve_rate,
    solve_reward,
)


def test_accuracy_reward() -> None:
    assert accuracy_reward(True) == 1.0
    assert accuracy_reward(False) == 0.0


@pytest.mark.parametrize(
    ("outcomes", "rate", "learnability"),
    [
        ([1, 0, 0, 0, 0, 0, 0, 0], 0.125, 0.875),
        ([True, True, False, False], 0.5, 0.5),
        ([1, 1, 1, 1, 1, 1, 1, 0], 0.875, 0.125),
        ([1] * 8, 1.0, 0.0),
        ([0] * 8, 0.0, 0.0),
        ([1], 1.0, 0.0),
    ],
)
def test_learnability(outcomes: list[int], rate: float, learnability: float) -> None:
    assert solve_rate(outcomes) == rate
    assert learnability_reward(outcomes) == learnability


def test_learnability_rejects_bad_outcomes() -> None:
    with pytest.raises(AZRConfigError, match="num_samples"):
        learnability_reward([])
    with pytest.raises(AZRConfigError):
        solve_rate([2.0])
    with pytest.raises(AZRConfigError):
        solve_rate([float("nan")])


@pytest.mark.parametrize(
    ("format_ok", "correct", "reward", "reason"),
    [(True, True, 1.0, "correct"), (True, False, -0.5, "wrong"), (False, False, -1.0, "malformed"),
     (False, True, -1.0, "malformed")],
)
def test_solve_reward(format_ok: bool, correct: bool, reward: float, reason: str) -> None:
    r = solve_reward(format_ok=format_ok, correct=correct)
    assert (r.reward, r.reason, r.format_ok) == (reward, reason, format_ok)
    assert r.solve_rate is None and r.learnability is None


@pytest.mark.parametrize(
    ("valid", "outcomes", "paper", "reference", "reason"),
    [
        (True, [1, 0, 0, 0, 0, 0, 0, 0], 0.875, 0.875, "learnable"),
        (True, [1, 1, 1, 0], 0.25, 0.25, "learnable"),
        (True, [1] * 8, 0.0, -0.5, "always_solved"),
        (True, [0] * 8, 0.0, -0.5, "never_solved"),
        (False, None, -1.0, -1.0, "invalid"),
        (False, [1, 0], -1.0, -1.0, "invalid"),
    ],
)
def test_propose_reward_both_modes(
    valid: bool, outcomes: list[int] | None, paper: float, reference: float, reason: str
) -> None:
    for mode, expected in (("paper", paper), ("reference", reference)):
        r = propose_reward(valid=valid, outcomes=outcomes, mode=mode)
        assert r.reward == expected, mode
        assert r.reason == reason
        assert r.format_ok is valid
        assert r.accuracy is None


def test_propose_reward_details() -> None:
    r = propose_reward(valid=True, outcomes=[1, 1, 0, 0])
    assert (r.solve_rate, r.learnability) == (0.5, 0.5)
    assert propose_reward(valid=False, outcomes=None, reason="timeout").reason == "timeout"
    unscored = propose_reward(valid=True, outcomes=None)
    assert unscored.reward == 0.0 and "no_solver" in unscored.reason
    assert unscored.learnability is None


def test_compose_reward_table() -> None:
    assert compose_reward(False, 1.0, role="solve") == -1.0
    assert compose_reward(True, 1.0, role="solve") == 1.0
    assert compose_reward(True, 0.0, role="solve") == -0.5
    assert compose_reward(True, 0.0, role="solve", mode="reference") == -0.5
    assert compose_reward(True, 0.0, role="propose") == 0.0
    assert compose_reward(True, 0.0, role="propose", mode="reference") == -0.5
    assert compose_reward(True, 0.3, role="propose", mode="reference") == 0.3


def test_argument_validation() -> None:
    with pytest.raises(AZRConfigError, match="'paper'"):
        compose_reward(True, 1.0, role="solve", mode="Paper")
    with pytest.raises(AZRConfigError, match="role"):
        compose_reward(True, 1.0, role="judge")
    with pytest.raises(AZRConfigError):
        compose_reward(True, 1.5, role="solve")
    with pytest.raises(AZRConfigError):
        propose_reward(valid=True, outcomes=[1], mode="ref")
    RewardConfig().validate()
    RewardConfig(mode="reference", num_samples=1).validate()
    with pytest.raises(AZRConfigError, match="reward mode"):
        RewardConfig(mode="x").validate()
    with pytest.raises(AZRConfigError, match="num_samples"):
        RewardConfig(num_samples=0).validate()


def test_breakdown_to_info() -> None:
    info = solve_reward(format_ok=True, correct=True).to_info()
    assert set(info) == {"format_ok", "accuracy", "solve_rate", "learnability", "reward", "reason"}
    assert info["reward"] == 1.0


outcomes_strategy = st.one_of(
    st.none(),
    st.lists(st.booleans(), min_size=1, max_size=16),
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=16),
)


@given(
    valid=st.booleans(),
    outcomes=outcomes_strategy,
    mode=st.sampled_from(REWARD_MODES),
    reason=st.text(max_size=10),
)
def test_propose_reward_in_range(
    valid: bool, outcomes: list[float] | None, mode: str, reason: str
) -> None:
    r = propose_reward(valid=valid, outcomes=outcomes, mode=mode, reason=reason)
    assert isinstance(r, RewardBreakdown)
    assert -1.0 <= r.reward <= 1.0
    assert r.reward in (-1.0, -0.5, 0.0) or 0.0 < r.reward <= 1.0
    if not valid:
        assert r.reward == -1.0
    if r.learnability is not None:
        assert 0.0 <= r.learnability <= 1.0
        assert r.reward == compose_reward(True, r.learnability, role="propose", mode=mode)


@given(format_ok=st.booleans(), correct=st.booleans())
def test_solve_reward_in_range(format_ok: bool, correct: bool) -> None:
    assert solve_reward(format_ok=format_ok, correct=correct).reward in (-1.0, -0.5, 1.0)


@given(
    format_ok=st.booleans(),
    role_reward=st.floats(0.0, 1.0),
    role=st.sampled_from(["propose", "solve"]),
    mode=st.sampled_from(REWARD_MODES),
)
def test_composition_in_range(format_ok: bool, role_reward: float, role: str, mode: str) -> None:
    reward = compose_reward(format_ok, role_reward, role=role, mode=mode)
    assert -1.0 <= reward <= 1.0
    if format_ok and role_reward > 0:
        assert reward == role_reward


@given(role_reward=st.one_of(st.floats(allow_nan=True), st.integers()))
def test_composition_rejects_out_of_range_only(role_reward: float) -> None:
    if 0.0 <= role_reward <= 1.0:
        assert -1.0 <= compose_reward(True, role_reward, role="solve") <= 1.0
    else:
        with pytest.raises(AZRConfigError):
            compose_reward(True, role_reward, role="solve")
