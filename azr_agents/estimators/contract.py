"""The estimator contract, checked: what a registered estimator returns must be per-token
advantages `Tensor[B, T]` (the shape of `mask`), finite. `get` checks a new estimator on a small
probe batch before a model loads; the trainer checks every batch. A broken estimator (often a
user's own) fails with its name instead of a shape error deep in the loss.
"""

from __future__ import annotations

import torch
from torch import Tensor

from azr_agents.errors import AZRConfigError
from azr_agents.estimators.base import AdvantageInput


def probe_batch() -> AdvantageInput:
    """Four responses to two prompts in two groups, of uneven lengths, rewards of every kind."""
    mask = torch.tensor([[1, 1, 0], [1, 0, 0], [1, 1, 1], [1, 1, 0]], dtype=torch.float32)
    return AdvantageInput(
        rewards=torch.tensor([1.0, -0.5, 0.0, 1.0]),
        mask=mask,
        groups=[("deduction", "solve")] * 2 + [("abduction", "propose")] * 2,
        prompt_ids=[0, 0, 1, 1],
    )


def check_advantages(name: str, advantages: object, inp: AdvantageInput) -> Tensor:
    """`advantages` if they keep the contract for `inp`, else `AZRConfigError` naming `name`."""
    if not isinstance(advantages, Tensor):
        raise AZRConfigError(f"estimator {name!r} returned {type(advantages).__name__}, not a "
                             "Tensor of per-token advantages [B, T]")
    if tuple(advantages.shape) != tuple(inp.mask.shape):
        raise AZRConfigError(f"estimator {name!r} returned shape {tuple(advantages.shape)} for "
                             f"a batch of mask shape {tuple(inp.mask.shape)}: it must return "
                             "per-token advantages [B, T] (inp.broadcast turns [B] into them)")
    if not bool(torch.isfinite(advantages).all()):
        raise AZRConfigError(f"estimator {name!r} returned NaN or inf advantages")
    return advantages
