"""TRR++: task-relative REINFORCE++, the Absolute Zero estimator
(docs/concepts.md#trr-task-relative-reinforce)."""

from __future__ import annotations

import torch
from torch import Tensor

from azr_agents.estimators.base import AdvantageInput, Per, check_choice, whiten_by_key
from azr_agents.estimators.registry import register


@register("trr++")
@torch.no_grad()
def trr_plus_plus(inp: AdvantageInput, per: Per = "sequence", eps: float = 1e-8) -> Tensor:
    """For each group key g (e.g. (task_type, role)) separately:

        A_i = (r_i - mean_g) / (std_g + eps),   broadcast to every response token of i.

    per="sequence" (the paper): mean and unbiased std over the group's sequences.
    per="token" (the reference code): over the group's response tokens, i.e. each sequence
    weighted by its length L_i, with N = sum L_i tokens:
        mean_g = sum L_i r_i / N,   std_g^2 = sum L_i (r_i - mean_g)^2 / (N - 1).
    (The reference divides by sqrt(var + eps) rather than std + eps; the two differ by O(eps).)
    A group with one sample (one token in token mode), or whose rewards are all equal, gets 0.
    """
    check_choice("per", per, ["sequence", "token"])
    rewards = inp.float_rewards()
    weights = inp.float_mask().sum(dim=1) if per == "token" else torch.ones_like(rewards)
    return inp.broadcast(whiten_by_key(rewards, weights, inp.groups, eps=eps))
