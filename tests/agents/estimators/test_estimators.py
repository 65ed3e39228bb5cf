"""Advantage estimators against hand-computed numbers, plus properties and the registry.

Every expected number below is worked out by hand in the comment beside it (not by calling
the code under test). Unbiased std: sqrt(sum (r - mean)^2 / (n - 1)).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from azr_agents.errors import AZRConfigError
from azr_agents.estimators import AdvantageInput, available, get, register, registry

BUILT_IN = ["grpo", "reinforce", "reinforce++", "rloo", "trr++"]
DED, ABD = ("deduction", "solve"), ("abduction", "propose")


def batch(
    rewards: Sequence[float],
    lengths: Sequence[int] | None = None,
    groups: Sequence[Hashable] | None = None,
    prompt_ids: Sequence[Hashable] | None = None,
    width: int = 4,
) -> AdvantageInput:
    """Right-padded masks of the given lengths (default: full width)."""
    b = len(rewards)
    lengths = lengths if lengths is not None else [width] * b
    mask = (torch.arange(width)[None, :] < torch.tensor(lengths, dtype=torch.long)[:, None]).float()
    return AdvantageInput(
        rewards=torch.tensor(rewards, dtype=torch.float32),
        mask=mask,
        groups=list(groups) if groups is not None else [DED] * b,
        prompt_ids=list(prompt_ids) if prompt_ids is not None else list(range(b)),
    )


def per_sequence(adv: Tensor) -> list[float]:
    """The advantage of each row (rows must have token 0 unmasked)."""
    return adv[:, 0].tolist()


def approx(values: Sequence[float], tol: float = 1e-6) -> object:
    return pytest.approx(list(values), abs=tol)


# --- trr++ --------------------------------------------------------------------------------


def test_trr_sequence_hand_computed() -> None:
    # DED: r = [1, 0]: mean 0.5, std = sqrt((0.25 + 0.25) / 1) = 0.7071068 -> A = +-0.7071068
    # ABD: r = [1, 0, 0]: mean 1/3, sum sq dev = 4/9 + 1/9 + 1/9 = 2/3, var = (2/3)/2 = 1/3,
    #      std = 0.5773503 -> A = (2/3)/0.5773503 = 1.1547005, (-1/3)/0.5773503 = -0.5773503
    # "single": one sample -> 0; "flat": r = [0.5, 0.5], std 0 -> 0 (not NaN)
    inp = batch(
        [1, 1, 0, 0, 0, 0.7, 0.5, 0.5],
        groups=[DED, ABD, DED, ABD, ABD, "single", "flat", "flat"],
    )
    adv = get("trr++")(inp)
    assert per_sequence(adv) == approx(
        [0.7071068, 1.1547005, -0.7071068, -0.5773503, -0.5773503, 0, 0, 0]
    )


def test_trr_token_mode_weights_by_length() -> None:
    # r = [1, 0], lengths [3, 1]: N = 4 tokens, mean = (3*1 + 1*0)/4 = 0.75,
    # var = (3*0.25^2 + 1*0.75^2) / (4 - 1) = (0.1875 + 0.5625)/3 = 0.25, std = 0.5
    # -> A = (1 - 0.75)/0.5 = 0.5, (0 - 0.75)/0.5 = -1.5
    inp = batch([1, 0], lengths=[3, 1])
    token = get("trr++", per="token")(inp)
    assert token.tolist() == [
        pytest.approx([0.5, 0.5, 0.5, 0], abs=1e-6),
        pytest.approx([-1.5, 0, 0, 0], abs=1e-6),
    ]
    # Sequence mode ignores the lengths: +-0.7071068, so the two modes differ.
    assert per_sequence(get("trr++", per="sequence")(inp)) == approx([0.7071068, -0.7071068])
    # Swapped lengths [1, 3]: mean 0.25, var = (0.75^2 + 3*0.25^2)/3 = 0.25 -> A = 1.5, -0.5
    assert per_sequence(get("trr++", per="token")(batch([1, 0], lengths=[1, 3]))) == approx(
        [1.5, -0.5]
    )


def test_trr_token_mode_degenerate_groups_are_zero() -> None:
    # One sample of 3 tokens: every token has the same reward -> std 0 -> 0.
    # One sample of 1 token: N = 1, unbiased variance undefined -> 0.
    # Two samples but one has no tokens: only one reward is counted -> 0.
    inp = batch([1, 2, 3, 0], lengths=[3, 1, 2, 0], groups=["a", "b", "c", "c"])
    adv = get("trr++", per="token")(inp)
    assert torch.equal(adv, torch.zeros_like(adv))


def test_trr_groups_are_independent() -> None:
    for per in ("sequence", "token"):
        est = get("trr++", per=per)
        before = est(batch([1, 0, 0.3, 0.9], lengths=[4, 2, 3, 1], groups=[DED, DED, ABD, ABD]))
        after = est(batch([1, 0, -5.0, 2.0], lengths=[4, 2, 3, 1], groups=[DED, DED, ABD, ABD]))
        assert torch.equal(before[:2], after[:2])
        assert not torch.equal(before[2:], after[2:])


# --- reinforce++ --------------------------------------------------------------------------


def test_reinforce_plus_plus_one_global_baseline() -> None:
    # r = [2, 0, 1] (groups ignored): mean 1, var = (1 + 1 + 0)/2 = 1 -> A = [1, -1, 0]
    inp = batch([2, 0, 1], lengths=[1, 1, 2], groups=[DED, ABD, "x"])
    assert per_sequence(get("reinforce++")(inp)) == approx([1, -1, 0])
    # token mode, lengths [1, 1, 2]: N = 4, mean = (2 + 0 + 2*1)/4 = 1,
    # var = (1 + 1 + 0)/3 = 2/3, std = 0.8164966 -> A = [1.2247449, -1.2247449, 0]
    assert per_sequence(get("reinforce++", per="token")(inp)) == approx([1.2247449, -1.2247449, 0])


# --- grpo ---------------------------------------------------------------------------------


def test_grpo_per_prompt() -> None:
    # prompt "p": r = [1, 0, 0, 0]: mean 0.25, sum sq = 0.5625 + 3*0.0625 = 0.75,
    #   var = 0.75/3 = 0.25, std 0.5 -> A = [1.5, -0.5, -0.5, -0.5]  (eps 1e-6: tol 1e-5)
    # prompt "q": single sample -> 0; prompt "s": r = [1, 1] -> 0
    inp = batch([1, 0, 0.4, 0, 0, 1, 1], prompt_ids=["p", "p", "q", "p", "p", "s", "s"])
    assert per_sequence(get("grpo")(inp)) == approx([1.5, -0.5, 0, -0.5, -0.5, 0, 0], 1e-5)
    # Dr. GRPO (scale=False): r - mean = [0.75, -0.25, -0.25, -0.25]
    assert per_sequence(get("grpo", scale=False)(inp)) == approx(
        [0.75, -0.25, 0, -0.25, -0.25, 0, 0]
    )


# --- rloo ---------------------------------------------------------------------------------


def test_rloo_leave_one_out() -> None:
    # prompt "p": r = [1, 0, 0, 0]: A_0 = 1 - (0+0+0)/3 = 1, A_j = 0 - (1+0+0)/3 = -1/3
    # prompt "q": r = [0.5, 1.0]: A = 0.5 - 1.0 = -0.5, 1.0 - 0.5 = 0.5
    # prompt "z": single sample -> 0
    inp = batch([1, 0.5, 0, 0, 1.0, 0, 0.9], prompt_ids=["p", "q", "p", "p", "q", "p", "z"])
    assert per_sequence(get("rloo")(inp)) == approx([1, -0.5, -1 / 3, -1 / 3, 0.5, -1 / 3, 0])


# --- reinforce (moving-average baseline) --------------------------------------------------


def test_reinforce_moving_average_baseline() -> None:
    est = get("reinforce")  # beta 0.9, b starts at 0
    # batch 1: A = r - 0 = [1, 0];        b <- 0.9*0 + 0.1*0.5 = 0.05
    assert per_sequence(est(batch([1, 0]))) == approx([1, 0])
    # batch 2: A = r - 0.05 = [0.95, 0.95]; b <- 0.9*0.05 + 0.1*1 = 0.145
    assert per_sequence(est(batch([1, 1]))) == approx([0.95, 0.95])
    # an empty batch leaves b alone
    assert est(AdvantageInput.empty()).shape == (0, 0)
    # batch 3: A = 0 - 0.145
    assert per_sequence(est(batch([0]))) == approx([-0.145])
    # A new estimator has its own baseline; state_dict restores one exactly.
    assert per_sequence(get("reinforce")(batch([1]))) == approx([1])
    other = get("reinforce", beta=0.5)
    other.load_state_dict(est.state_dict())  # type: ignore[attr-defined]
    # b after batch 3 = 0.9*0.145 + 0.1*0 = 0.1305
    assert per_sequence(other(batch([1]))) == approx([1 - 0.1305])


# --- shared contract ----------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILT_IN)
def test_mask_dtype_device_and_no_grad(name: str) -> None:
    rewards = torch.tensor([1.0, -0.3, 0.5, 0.2], dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    inp = AdvantageInput(rewards, mask, [DED, DED, DED, DED], ["p", "p", "p", "p"])
    adv = get(name)(inp)
    assert adv.shape == (4, 4)
    assert adv.dtype == torch.float32
    assert adv.device == rewards.device
    assert not adv.requires_grad
    assert torch.all(adv[~mask] == 0)
    assert torch.all(adv[mask] != 0)  # these rewards give every unmasked token a signal
    # each row's unmasked tokens carry one value
    for row, m in zip(adv, mask, strict=True):
        assert torch.unique(row[m]).numel() <= 1


@pytest.mark.parametrize("name", BUILT_IN)
def test_constant_single_and_empty_batches_are_finite(name: str) -> None:
    for inp in (batch([0.5] * 5), batch([3.0]), AdvantageInput.empty(), batch([1, 0], [0, 0])):
        adv = get(name)(inp)
        assert torch.isfinite(adv).all()
        assert adv.shape == inp.mask.shape


def test_bad_inputs_fail_loudly() -> None:
    with pytest.raises(ValueError, match="one group key"):
        AdvantageInput(torch.zeros(2), torch.ones(2, 3), [DED], [0, 1])
    with pytest.raises(ValueError, match="mask"):
        AdvantageInput(torch.zeros(2), torch.ones(3, 3), [DED, DED], [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        AdvantageInput(torch.tensor([0.0, math.nan]), torch.ones(2, 3), [DED, DED], [0, 1])


# --- properties ---------------------------------------------------------------------------


@st.composite
def random_batches(draw: st.DrawFn, full_mask: bool = False) -> AdvantageInput:
    b = draw(st.integers(0, 12))
    t = draw(st.integers(1, 6))
    rewards = draw(
        st.lists(
            st.floats(-10, 10, allow_nan=False, width=32) | st.sampled_from([0.0, 1.0]),
            min_size=b,
            max_size=b,
        )
    )
    lengths = [t] * b if full_mask else draw(st.lists(st.integers(0, t), min_size=b, max_size=b))
    groups = draw(
        st.lists(st.sampled_from([DED, ABD, ("induction", "solve")]), min_size=b, max_size=b)
    )
    prompts = draw(st.lists(st.integers(0, 3), min_size=b, max_size=b))
    return batch(rewards, lengths, groups, prompts, width=t)


ALL_OPTIONS: list[tuple[str, dict[str, object]]] = [
    ("trr++", {}),
    ("trr++", {"per": "token"}),
    ("reinforce++", {}),
    ("reinforce++", {"per": "token"}),
    ("grpo", {}),
    ("grpo", {"scale": False}),
    ("rloo", {}),
    ("reinforce", {}),
]


@settings(max_examples=60, deadline=None)
@given(inp=random_batches())
def test_property_finite_and_masked(inp: AdvantageInput) -> None:
    for name, options in ALL_OPTIONS:
        adv = get(name, **options)(inp)
        assert adv.shape == inp.mask.shape
        assert torch.isfinite(adv).all(), (name, options)
        assert torch.all(adv[inp.mask == 0] == 0)


def group_sums(adv: Tensor, keys: Sequence[Hashable]) -> list[float]:
    sums: dict[Hashable, float] = {}
    for a, k in zip(adv[:, 0].tolist(), keys, strict=True):
        sums[k] = sums.get(k, 0.0) + a
    return list(sums.values())


@settings(max_examples=60, deadline=None)
@given(inp=random_batches(full_mask=True))
def test_property_zero_mean_within_groups(inp: AdvantageInput) -> None:
    def tol(adv: Tensor) -> float:
        return 1e-4 * (1 + float(adv.abs().sum()))

    adv = get("trr++")(inp)
    assert group_sums(adv, inp.groups) == approx([0.0] * len(set(inp.groups)), tol(adv))
    adv = get("reinforce++")(inp)
    assert float(adv[:, 0].sum()) == pytest.approx(0.0, abs=tol(adv))
    for name in ("grpo", "rloo"):
        adv = get(name)(inp)
        n = len(set(inp.prompt_ids))
        assert group_sums(adv, inp.prompt_ids) == approx([0.0] * n, tol(adv))


# --- registry -----------------------------------------------------------------------------


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made in a test vanish after it."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


@pytest.mark.usefixtures("scratch_registry")
def test_custom_estimator_in_a_few_lines() -> None:
    @register("my-est")
    def my_est(inp: AdvantageInput, bonus: float = 0.0) -> Tensor:
        """A = r + bonus on every response token."""
        return inp.broadcast(inp.float_rewards() + bonus)

    assert "my-est" in available()
    assert get("my-est", bonus=1.0)(batch([1, 0], lengths=[2, 1], width=2)).tolist() == [
        [2.0, 2.0],
        [1.0, 0.0],
    ]
    with pytest.raises(AZRConfigError, match="bonus"):
        get("my-est", bonnus=1.0)
    with pytest.raises(AZRConfigError, match="already registered"):
        register("my-est")(lambda inp: inp.broadcast(inp.float_rewards()))


def test_available_lists_built_ins() -> None:
    assert set(BUILT_IN) <= set(available())


def test_unknown_names_and_options_raise_config_error() -> None:
    with pytest.raises(AZRConfigError, match=r"unknown estimator 'trr\+\+\+'.*grpo.*trr\+\+"):
        get("trr+++")
    with pytest.raises(AZRConfigError, match="per"):
        get("trr++", per="tokens")  # bad value: caught by get, not at the first step
    with pytest.raises(AZRConfigError, match="beta"):
        get("reinforce", beta=1.5)
    with pytest.raises(AZRConfigError, match="options: per, eps"):
        get("reinforce++", scale=False)


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (lambda inp: inp.float_rewards(), r"returned shape \(0,\) .* advantages \[B, T\]"),
        (lambda inp: inp.broadcast(inp.float_rewards() / 0.0), "returned NaN or inf"),
        (lambda inp: [0.0] * len(inp.groups), "returned list, not a Tensor"),
    ],
)
def test_an_estimator_that_breaks_the_contract_is_named_before_training(
    returned: object, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register("broken-test")(returned)  # type: ignore[arg-type]
    with pytest.raises(AZRConfigError, match="estimator 'broken-test' " + message):
        get("broken-test")
