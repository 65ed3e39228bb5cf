"""PPO's pi_old when the sampler is not the training model (issue 12, defect 6): recomputed by
default, the sampler's kept as an option, and the mismatch between the two logged."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from azr_agents.config import load_config
from azr_agents.errors import AZRConfigError
from azr_agents.training.old_logprobs import Mismatch, should_recompute


def test_auto_recomputes_exactly_when_the_sampler_is_approximate() -> None:
    exact, approximate, unknown = (SimpleNamespace(exact_logprobs=True),
                                   SimpleNamespace(exact_logprobs=False), SimpleNamespace())
    assert not should_recompute("auto", exact)
    assert should_recompute("auto", approximate)
    assert not should_recompute("auto", unknown)  # a policy that says nothing samples itself
    assert should_recompute("recompute", exact)
    assert not should_recompute("sampler", approximate)


def test_mismatch_is_the_kl_estimate_of_hand_computed_numbers() -> None:
    sampler = torch.tensor([[-1.0, -2.0, -5.0]])
    trainer = torch.tensor([[-1.5, -1.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])  # the third token is padding
    gap = Mismatch()
    gap.add(sampler, trainer, mask)
    metrics = gap.metrics()
    # log r = trainer - sampler = (-0.5, +1.0); k1 = mean(-log r); k3 = mean(r - 1 - log r)
    assert metrics["sampler_kl"] == pytest.approx((0.5 - 1.0) / 2)
    k3 = ((math.exp(-0.5) - 1 + 0.5) + (math.exp(1.0) - 1 - 1.0)) / 2
    assert metrics["sampler_kl_k3"] == pytest.approx(k3)
    assert metrics["sampler_logprob_max_abs_diff"] == pytest.approx(1.0)
    assert Mismatch().metrics() == {}


def test_an_unknown_mode_is_a_config_error(tiny_model_dir: Path) -> None:
    with pytest.raises(AZRConfigError, match="old_logprobs"):
        load_config("cpu-smoke", [f"policy.model={tiny_model_dir}", "optim.old_logprobs=vllm"])


@pytest.mark.slow
@pytest.mark.parametrize(("generation_dtype", "mode"), [
    ("auto", "auto"), ("bfloat16", "auto"), ("bfloat16", "sampler"), ("int8", "auto"),
])
def test_pi_old_comes_from_the_training_model_unless_the_sampler_is_exact_or_asked_for(
    tiny_model_dir: Path, tmp_path: Path, generation_dtype: str, mode: str
) -> None:
    """One step, one mini-batch: with pi_old from the training model, the first (only) update's
    ratio is exactly 1 (approx_kl 0); with an approximate sampler's pi_old, the mismatch enters
    the ratio. Either way the mismatch is measured and logged."""
    from azr_agents.policies import load_policy
    from azr_agents.training.session import SelfPlaySession
    from azr_agents.training.trainer import Trainer

    config = load_config(
        "cpu-smoke",
        [
            "selfplay.batch_size=2",
            "selfplay.env.rewards.num_samples=2",
            "selfplay.seed_factor=1",
            "selfplay.max_seeding_rounds=1",
            "selfplay.env.buffers.num_references=1",
            "generation.max_new_tokens=12",
            "run.probe_every=0",
            f"policy.model={tiny_model_dir}",
            f"optim.old_logprobs={mode}",
            f"policy.generation_dtype={generation_dtype}",
            # A tiny random model's answers are all malformed (advantage 0): run them anyway.
            "optim.skip_zero_advantage=false",
        ],
    )
    policy = load_policy(str(tiny_model_dir), generation_dtype=generation_dtype)
    assert policy.exact_logprobs == (generation_dtype == "auto")  # type: ignore[attr-defined]
    with SelfPlaySession(config.selfplay) as session:
        metrics = Trainer(config, policy, session, tmp_path).step()
    update, seconds = metrics["update"], metrics["time_s"]
    assert update["trained_samples"] == 12
    assert {"update_forward", "update_backward", "update_optimizer", "update_sync_weights"} <= set(
        seconds
    )
    assert 0.0 <= update["padding_fraction"] < 1.0
    if generation_dtype == "auto":
        assert abs(update["sampler_kl"]) < 1e-4 and update["sampler_logprob_max_abs_diff"] < 1e-3
        assert abs(update["approx_kl"]) < 1e-6
    elif mode == "auto":
        assert "update_recompute_old" in seconds
        assert update["sampler_kl_k3"] > 1e-7  # the low-precision sampler is measurably off
        assert update["approx_kl"] == 0.0 and update["clip_fraction"] == 0.0
    else:
        assert "update_recompute_old" not in seconds
        assert abs(update["approx_kl"]) > 1e-7  # the sampler's mismatch is in the ratio
