"""pass@k against values worked out by hand from 1 - C(n-c, k) / C(n, k)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from azr_agents.errors import AZRConfigError
from azr_agents.evaluation.passk import mean_pass_at_k, pass_at_k


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 0, 1, 0.0),
        (1, 1, 1, 1.0),
        (5, 0, 3, 0.0),
        (5, 2, 1, 0.4),            # c / n
        (5, 2, 2, 1 - 3 / 10),     # 1 - C(3,2)/C(5,2)
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (5, 4, 2, 1.0),            # n - c < k: every pair holds a correct one
        (200, 1, 1, 0.005),
    ],
)
def test_pass_at_k_hand_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_matches_binomials_where_they_do_not_overflow() -> None:
    for n, c, k in [(20, 7, 3), (50, 10, 10), (30, 1, 29)]:
        exact = 1 - math.comb(n - c, k) / math.comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-12)


def test_pass_at_k_is_stable_for_large_n() -> None:
    value = pass_at_k(100_000, 3, 10)
    assert 0 < value < 1 and math.isfinite(value)
    exact = 1 - Fraction(math.comb(100_000 - 3, 10), math.comb(100_000, 10))  # exact integers
    assert value == pytest.approx(float(exact), rel=1e-9)


def test_pass_at_k_rejects_too_few_samples_and_bad_counts() -> None:
    with pytest.raises(AZRConfigError, match="at least 5 samples"):
        pass_at_k(3, 1, 5)
    with pytest.raises(AZRConfigError):
        pass_at_k(3, 4, 1)


def test_mean_pass_at_k() -> None:
    rows = [[True, False], [False, False], [True, True]]
    assert mean_pass_at_k(rows, 1) == pytest.approx((0.5 + 0 + 1) / 3)
    assert mean_pass_at_k(rows, 2) == pytest.approx((1 + 0 + 1) / 3)
    assert mean_pass_at_k(rows, 5) is None
    assert mean_pass_at_k([], 1) is None
