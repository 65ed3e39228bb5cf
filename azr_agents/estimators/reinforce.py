"""REINFORCE with a moving-average baseline kept across calls."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from azr_agents.errors import AZRConfigError
from azr_agents.estimators.base import AdvantageInput
from azr_agents.estimators.registry import register


@register("reinforce")
class MovingAverageBaseline:
    """A_i = r_i - b, then b <- beta * b + (1 - beta) * mean(r), broadcast to response tokens.

    b is the baseline from *before* this batch's update (so a batch never baselines itself);
    it starts at 0, so the first batch gets the raw rewards. An empty batch leaves b
    unchanged. Each `get("reinforce")` returns a fresh instance with its own b; save and
    restore it with `state_dict()` / `load_state_dict()` to resume exactly.
    """

    def __init__(self, beta: float = 0.9) -> None:
        if not 0.0 <= beta <= 1.0:
            raise AZRConfigError(f"beta={beta!r} must lie in [0, 1]")
        self.beta = beta
        self.baseline = 0.0

    @torch.no_grad()
    def __call__(self, inp: AdvantageInput) -> Tensor:
        rewards = inp.float_rewards()
        adv = rewards - self.baseline
        if len(rewards) > 0:
            batch_mean = float(rewards.mean())
            self.baseline = self.beta * self.baseline + (1.0 - self.beta) * batch_mean
        return inp.broadcast(adv)

    def state_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.baseline = float(state["baseline"])
