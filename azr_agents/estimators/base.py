"""The estimator contract: `AdvantageInput` in, per-token advantages `Tensor[B, T]` out.

An estimator is any callable `Estimator = Callable[[AdvantageInput], Tensor]`. It returns
float32 advantages on the device of `rewards`, zero wherever `mask` is 0, never NaN or inf, and
never tracks gradients. Most estimators are plain functions; one that keeps state across calls
(the moving-average baseline of `reinforce`) is a class whose instances are the callables.

`whiten_by_key` is the one statistic three estimators share (trr++, reinforce++, grpo).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from azr_agents.errors import AZRConfigError

Per = Literal["sequence", "token"]


@dataclass(frozen=True)
class AdvantageInput:
    """One batch of B scored responses.

    rewards: float `Tensor[B]`, one scalar reward per response.
    mask: `Tensor[B, T]` of 0/1 (bool or numeric), 1 on the response tokens.
    groups: B hashable keys, e.g. `(task_type, role)`; TRR++ normalises within each key.
    prompt_ids: B hashable keys naming the prompt a response answers; GRPO and RLOO compare
        the samples of one prompt with each other.
    """

    rewards: Tensor
    mask: Tensor
    groups: Sequence[Hashable]
    prompt_ids: Sequence[Hashable]

    def __post_init__(self) -> None:
        b = self.rewards.shape[0] if self.rewards.dim() == 1 else -1
        if b < 0 or self.mask.dim() != 2 or self.mask.shape[0] != b:
            raise ValueError(
                f"AdvantageInput needs rewards [B] and mask [B, T]; got "
                f"{tuple(self.rewards.shape)} and {tuple(self.mask.shape)}"
            )
        if len(self.groups) != b or len(self.prompt_ids) != b:
            raise ValueError(
                f"AdvantageInput needs one group key and one prompt id per response (B={b}); "
                f"got {len(self.groups)} group keys and {len(self.prompt_ids)} prompt ids"
            )
        if not bool(torch.isfinite(self.rewards).all()):
            raise ValueError(
                "AdvantageInput rewards contain NaN or inf; a reward function is broken"
            )

    @classmethod
    def empty(cls) -> AdvantageInput:
        """A batch of zero responses (B=0, T=0)."""
        return cls(torch.zeros(0), torch.zeros(0, 0), [], [])

    def float_rewards(self) -> Tensor:
        """Rewards as a detached float32 tensor."""
        return self.rewards.detach().to(torch.float32)

    def float_mask(self) -> Tensor:
        """The mask as a detached float32 tensor on the rewards' device."""
        return self.mask.detach().to(device=self.rewards.device, dtype=torch.float32)

    def broadcast(self, per_sequence: Tensor) -> Tensor:
        """Give every response token its sequence's advantage; 0 where the mask is 0."""
        return per_sequence[:, None] * self.float_mask()


Estimator = Callable[[AdvantageInput], Tensor]


def check_choice(option: str, value: object, choices: Sequence[object]) -> None:
    """Raise `AZRConfigError` unless `value` is one of `choices`."""
    if value not in choices:
        raise AZRConfigError(f"{option}={value!r} is not supported; use one of {list(choices)}")


def members_by_key(keys: Sequence[Hashable], device: torch.device) -> list[Tensor]:
    """Index tensors of the positions sharing each key, in first-seen order."""
    positions: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        positions.setdefault(key, []).append(i)
    return [torch.tensor(p, dtype=torch.long, device=device) for p in positions.values()]


def whiten_by_key(
    rewards: Tensor,
    weights: Tensor,
    keys: Sequence[Hashable],
    *,
    eps: float,
    scale: bool = True,
) -> Tensor:
    """Per-sequence `A_i = (r_i - mean_k) / (std_k + eps)` within each key k, weighted.

    With weights w_i (1 per sequence, or the response length for token statistics) and
    N = sum_i w_i over the key's samples:
        mean_k = sum_i w_i r_i / N,    var_k = sum_i w_i (r_i - mean_k)^2 / (N - 1)  (unbiased).
    `scale=False` gives `A_i = r_i - mean_k` (no division). A key whose weighted samples all
    share one reward, or with N < 2 (variance undefined), gets advantage 0: comparing the
    samples yields no signal there, and 0 avoids dividing round-off by eps.
    """
    adv = torch.zeros_like(rewards)
    for members in members_by_key(keys, rewards.device):
        r, w = rewards[members], weights[members]
        n = w.sum()
        counted = r[w > 0]
        if n < 2 or counted.max() == counted.min():
            continue
        mean = (w * r).sum() / n
        centred = r - mean
        if scale:
            std = ((w * centred**2).sum() / (n - 1)).sqrt()
            centred = centred / (std + eps)
        adv[members] = centred
    return adv
