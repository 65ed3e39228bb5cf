"""REINFORCE++: one baseline for the whole batch."""

from __future__ import annotations

import torch
from torch import Tensor

from azr_agents.estimators.base import AdvantageInput, Per, check_choice, whiten_by_key
from azr_agents.estimators.registry import register


@register("reinforce++")
@torch.no_grad()
def reinforce_plus_plus(inp: AdvantageInput, per: Per = "sequence", eps: float = 1e-8) -> Tensor:
    """Whiten the rewards over the whole batch (TRR++ with a single group):

        A_i = (r_i - mean) / (std + eps),   broadcast to every response token of i.

    per="sequence": mean and unbiased std over the B sequences; per="token": over all response
    tokens (each sequence weighted by its length), as in trr++. A batch of one sample or of
    equal rewards gets 0.
    """
    check_choice("per", per, ["sequence", "token"])
    rewards = inp.float_rewards()
    weights = inp.float_mask().sum(dim=1) if per == "token" else torch.ones_like(rewards)
    return inp.broadcast(whiten_by_key(rewards, weights, [None] * len(rewards), eps=eps))
