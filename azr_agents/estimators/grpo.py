"""GRPO: each prompt's samples are their own baseline."""

from __future__ import annotations

import torch
from torch import Tensor

from azr_agents.estimators.base import AdvantageInput, whiten_by_key
from azr_agents.estimators.registry import register


@register("grpo")
@torch.no_grad()
def grpo(inp: AdvantageInput, scale: bool = True, eps: float = 1e-6) -> Tensor:
    """Within the samples of each prompt p (same `prompt_ids` entry):

        A_i = (r_i - mean_p) / (std_p + eps)    (std unbiased, over sequences)
        A_i =  r_i - mean_p                     with scale=False (Dr. GRPO)

    broadcast to every response token of i. A prompt with a single sample, or whose samples
    all scored the same, gets 0 (verl would return r_i for a single sample; here an unpaired
    sample carries no group-relative signal).
    """
    rewards = inp.float_rewards()
    adv = whiten_by_key(rewards, torch.ones_like(rewards), inp.prompt_ids, eps=eps, scale=scale)
    return inp.broadcast(adv)
