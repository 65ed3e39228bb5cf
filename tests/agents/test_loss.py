"""The PPO-clip surrogate against hand-computed values."""

from __future__ import annotations

import math

import torch

from azr_agents.training.loss import ppo_clip_loss


def test_on_policy_loss_is_minus_mean_advantage() -> None:
    lp = torch.tensor([[-1.0, -2.0, 0.0]])
    adv = torch.tensor([[2.0, 2.0, 2.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    loss, stats = ppo_clip_loss(lp, lp.clone(), adv, mask, clip_low=0.2, clip_high=0.2)
    assert math.isclose(loss.item(), -2.0)
    assert stats.tokens == 2 and stats.clipped == 0


def test_ratio_is_clipped_on_the_side_that_would_over_update() -> None:
    old = torch.zeros(1, 2)
    new = torch.log(torch.tensor([[1.5, 0.5]]))  # ratios 1.5 and 0.5
    mask = torch.ones(1, 2)
    # positive advantage: 1.5 is clipped to 1.2 (min picks 1.2); 0.5 stays (min picks 0.5)
    loss, stats = ppo_clip_loss(new, old, torch.ones(1, 2), mask, clip_low=0.2, clip_high=0.2)
    assert math.isclose(loss.item(), -(1.2 + 0.5) / 2, rel_tol=1e-6)
    assert stats.clipped == 1
    # clip-higher lets the positive side go to 1.28
    loss, _ = ppo_clip_loss(new, old, torch.ones(1, 2), mask, clip_low=0.2, clip_high=0.28)
    assert math.isclose(loss.item(), -(1.28 + 0.5) / 2, rel_tol=1e-6)
    # negative advantage: min(-1.5, -1.2) = -1.5 and min(-0.5, -0.8) = -0.8
    loss, _ = ppo_clip_loss(new, old, -torch.ones(1, 2), mask, clip_low=0.2, clip_high=0.2)
    assert math.isclose(loss.item(), (1.5 + 0.8) / 2, rel_tol=1e-6)


def test_token_mean_over_the_step_makes_micro_batches_add_up() -> None:
    torch.manual_seed(0)
    lp = torch.randn(4, 5, requires_grad=True)
    old = lp.detach() + 0.1 * torch.randn(4, 5)
    adv = torch.randn(4, 1).expand(4, 5)
    mask = (torch.rand(4, 5) > 0.3).float()
    whole, _ = ppo_clip_loss(lp, old, adv, mask, clip_low=0.2, clip_high=0.2)
    total = float(mask.sum())
    parts = [ppo_clip_loss(lp[i : i + 2], old[i : i + 2], adv[i : i + 2], mask[i : i + 2],
                           clip_low=0.2, clip_high=0.2, total_tokens=total)[0] for i in (0, 2)]
    assert torch.allclose(whole, parts[0] + parts[1])


def test_entropy_bonus_lowers_the_loss_and_has_gradient() -> None:
    lp = torch.zeros(1, 3)
    ent = torch.full((1, 3), 2.0, requires_grad=True)
    mask = torch.ones(1, 3)
    loss, stats = ppo_clip_loss(lp, lp, torch.zeros(1, 3), mask, clip_low=0.2, clip_high=0.2,
                                entropies=ent, entropy_coef=0.001)
    assert math.isclose(loss.item(), -0.002, rel_tol=1e-5)
    loss.backward()
    assert ent.grad is not None and torch.all(ent.grad < 0)
    assert math.isclose(stats.entropy / stats.tokens, 2.0)
