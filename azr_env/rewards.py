"""Rewards of the two roles and their format-aware composition (paper Eq. 6,
docs/concepts.md#rewards).

Small named functions rather than one scorer, so each can be tested against hand-computed numbers
and logged on its own. The env calls `solve_reward` or `propose_reward` once per completion and
puts the returned `RewardBreakdown` into `info`.

Composition, for either role:

- malformed (no `<answer>`, unparsable blocks, invalid proposal): -1;
- well-formed and the role reward r > 0: r;
- well-formed but wrong (solver): -0.5;
- valid proposal whose learnability is 0 (always or never solved): 0 in mode `paper` (Eq. 6
  scores a passable response by its role reward, which is 0 here), -0.5 in mode `reference`
  (the reference code's `acc_reward > 0 else -0.5`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from azr_env.errors import AZRConfigError

REWARD_MODES: tuple[str, ...] = ("paper", "reference")
ROLES: tuple[str, ...] = ("propose", "solve")

MALFORMED_REWARD = -1.0
"""Malformed output or invalid proposal."""

WRONG_REWARD = -0.5
"""Well-formed but wrong answer (and, in mode `reference`, a valid but unlearnable proposal)."""


@dataclass
class RewardConfig:
    """Reward options (omegaconf-friendly).

    - `mode`: `"paper"` (default) or `"reference"`; they differ only on a valid proposal with
      learnability 0 (0 vs -0.5).
    - `num_samples`: n, the solver attempts used to estimate a proposal's learnability (paper: 8),
      sampled at the training temperature.
    """

    mode: str = "paper"
    num_samples: int = 8

    def validate(self) -> None:
        """Raise `AZRConfigError` naming the option to fix."""
        check_mode(self.mode)
        if isinstance(self.num_samples, bool) or not isinstance(self.num_samples, int) or (
            self.num_samples < 1
        ):
            raise AZRConfigError(
                f"num_samples must be an int >= 1 (solver attempts per proposal; the paper uses "
                f"8), got {self.num_samples!r}"
            )


@dataclass(frozen=True)
class RewardBreakdown:
    """Everything that went into one completion's reward, for `info` and logs.

    `accuracy` is the solver's 0/1 score (None for a proposal); `solve_rate` and `learnability`
    describe a proposal (None for a solve step, or when no solver estimated them).
    """

    format_ok: bool
    accuracy: float | None
    solve_rate: float | None
    learnability: float | None
    reward: float
    reason: str

    def to_info(self) -> dict[str, Any]:
        """A plain dict for the env's `info`."""
        return asdict(self)


def check_mode(mode: str) -> str:
    """Return `mode` if it is a known reward mode, else raise saying which ones exist."""
    if mode not in REWARD_MODES:
        raise AZRConfigError(
            f"unknown reward mode {mode!r}: use 'paper' (default, paper Eq. 6) or 'reference' "
            "(the reference code: -0.5 for a valid proposal with learnability 0)"
        )
    return mode


def accuracy_reward(correct: bool) -> float:
    """The solver's role reward: 1 if its answer is correct, else 0."""
    return 1.0 if correct else 0.0


def solve_rate(outcomes: Sequence[float]) -> float:
    """Mean success of the solver's Monte-Carlo attempts on one proposed task.

    `outcomes` are the attempts' accuracies (bools or numbers in [0, 1]).
    """
    if len(outcomes) == 0:
        raise AZRConfigError(
            "learnability needs at least one solver outcome; set num_samples >= 1"
        )
    values = [float(x) for x in outcomes]
    if not all(0.0 <= v <= 1.0 for v in values):  # also rejects NaN
        raise AZRConfigError(f"solver outcomes must lie in [0, 1], got {list(outcomes)!r}")
    return sum(values) / len(values)


def learnability_reward(outcomes: Sequence[float]) -> float:
    """The proposer's role reward: 0 if the task is always or never solved, else 1 - rate.

    Tasks the solver finds trivial or impossible teach nothing; the reward peaks for tasks it
    solves only sometimes (and favours the harder of those).
    """
    rate = solve_rate(outcomes)
    if rate in (0.0, 1.0):
        return 0.0
    return 1.0 - rate


def compose_reward(format_ok: bool, role_reward: float, *, role: str, mode: str = "paper") -> float:
    """Paper Eq. 6: combine well-formedness with the role reward into the final scalar.

    `format_ok` means "well-formed" for a solver and "valid proposal" for a proposer.
    """
    check_mode(mode)
    if role not in ROLES:
        raise AZRConfigError(f"unknown role {role!r}: use 'propose' or 'solve'")
    if not (isinstance(role_reward, (int, float)) and 0.0 <= role_reward <= 1.0):
        raise AZRConfigError(f"a role reward must lie in [0, 1], got {role_reward!r}")
    if not format_ok:
        return MALFORMED_REWARD
    if role_reward > 0.0:
        return float(role_reward)
    if role == "propose" and mode == "paper":
        return 0.0
    return WRONG_REWARD


def solve_reward(*, format_ok: bool, correct: bool, reason: str = "") -> RewardBreakdown:
    """Reward of one solver completion.

    `reason` names what went wrong when the answer is malformed (e.g. "no_answer",
    "no_output_block"); it defaults to "malformed", "correct" or "wrong".
    """
    accuracy = accuracy_reward(correct) if format_ok else 0.0
    reward = compose_reward(format_ok, accuracy, role="solve")
    if not reason:
        reason = "malformed" if not format_ok else ("correct" if correct else "wrong")
    return RewardBreakdown(
        format_ok=format_ok,
        accuracy=accuracy,
        solve_rate=None,
        learnability=None,
        reward=reward,
        reason=reason,
    )


def propose_reward(
    *,
    valid: bool,
    outcomes: Sequence[float] | None,
    mode: str = "paper",
    reason: str = "",
) -> RewardBreakdown:
    """Reward of one proposer completion from its validity and the solver's attempts.

    `outcomes=None` means no solver was available: a valid proposal then scores 0 (validity
    only) and the reason says that learnability was not estimated. `reason` names why an
    invalid proposal failed (e.g. "timeout", "nondeterministic").
    """
    check_mode(mode)
    if not valid:
        return RewardBreakdown(
            format_ok=False,
            accuracy=None,
            solve_rate=None,
            learnability=None,
            reward=MALFORMED_REWARD,
            reason=reason or "invalid",
        )
    if outcomes is None:
        return RewardBreakdown(
            format_ok=True,
            accuracy=None,
            solve_rate=None,
            learnability=None,
            reward=0.0,
            reason=reason or "valid_unscored_no_solver",
        )
    rate = solve_rate(outcomes)
    learnability = learnability_reward(outcomes)
    if not reason:
        reason = "always_solved" if rate == 1.0 else "never_solved" if rate == 0.0 else "learnable"
    reward = compose_reward(True, learnability, role="propose", mode=mode)
    return RewardBreakdown(
        format_ok=True,
        accuracy=None,
        solve_rate=rate,
        learnability=learnability,
        reward=reward,
        reason=reason,
    )
