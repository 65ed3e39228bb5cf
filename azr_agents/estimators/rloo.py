"""RLOO: REINFORCE leave-one-out, a per-prompt baseline that excludes the sample itself."""

from __future__ import annotations

import torch
from torch import Tensor

from azr_agents.estimators.base import AdvantageInput, members_by_key
from azr_agents.estimators.registry import register


@register("rloo")
@torch.no_grad()
def rloo(inp: AdvantageInput) -> Tensor:
    """Within the n samples of each prompt (same `prompt_ids` entry):

        A_i = r_i - (1 / (n - 1)) * sum_{j != i} r_j  =  n / (n - 1) * (r_i - mean),

    broadcast to every response token of i. A prompt with a single sample gets 0.
    """
    rewards = inp.float_rewards()
    adv = torch.zeros_like(rewards)
    for members in members_by_key(inp.prompt_ids, rewards.device):
        n = len(members)
        if n > 1:
            r = rewards[members]
            adv[members] = r - (r.sum() - r) / (n - 1)
    return inp.broadcast(adv)
