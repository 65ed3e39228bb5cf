"""The PPO-clip surrogate with token-mean aggregation and an entropy bonus
(docs/concepts.md#trr-task-relative-reinforce)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LossStats:
    """Sums over tokens, so micro-batches add up; divide by `tokens` for means."""

    policy_loss: float = 0.0
    entropy: float = 0.0
    clipped: float = 0.0
    approx_kl: float = 0.0
    tokens: float = 0.0

    def add(self, other: LossStats) -> None:
        for name in ("policy_loss", "entropy", "clipped", "approx_kl", "tokens"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def means(self) -> dict[str, float]:
        """Per-token means; none when no token was computed (rather than zeros that look real)."""
        if not self.tokens:
            return {}
        tokens = self.tokens
        return {"policy_loss": self.policy_loss / tokens, "entropy": self.entropy / tokens,
                "clip_fraction": self.clipped / tokens, "approx_kl": self.approx_kl / tokens}


def ppo_clip_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_low: float,
    clip_high: float,
    entropies: torch.Tensor | None = None,
    entropy_coef: float = 0.0,
    total_tokens: float | None = None,
) -> tuple[torch.Tensor, LossStats]:
    """`-min(ratio * A, clip(ratio, 1 - clip_low, 1 + clip_high) * A) - entropy_coef * H`, summed
    over response tokens and divided by `total_tokens` (token-mean over one optimizer step's
    mini-batch, so that micro-batches accumulate to the same gradient as one big batch). `clip_high
    > clip_low` is the
    clip-higher variant."""
    mask = mask.to(logprobs.dtype)
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high) * advantages
    per_token = -torch.minimum(unclipped, clipped)
    if entropies is not None and entropy_coef:
        per_token = per_token - entropy_coef * entropies
    denominator = total_tokens if total_tokens is not None else mask.sum().clamp(min=1.0).item()
    loss = (per_token * mask).sum() / denominator
    with torch.no_grad():
        stats = LossStats(
            policy_loss=float((-torch.minimum(unclipped, clipped) * mask).sum()),
            entropy=float((entropies * mask).sum()) if entropies is not None else 0.0,
            clipped=float(((clipped < unclipped).to(mask.dtype) * mask).sum()),  # clip active
            approx_kl=float(((old_logprobs - logprobs) * mask).sum()),
            tokens=float(mask.sum()),
        )
    return loss, stats


def rows_with_gradient(
    advantages: torch.Tensor, mask: torch.Tensor, entropy_coef: float
) -> torch.Tensor:
    """Which rows of `[rows, T]` advantages can change the weights under `ppo_clip_loss`.

    Without an entropy bonus a row's loss is `-min(ratio * A, clip(ratio) * A)` on each of its
    tokens: where A is 0 on all of them (every answer of its group scored alike, the common case
    for a small model early on), its gradient is exactly zero, so its forward and backward can
    be skipped without changing the update (the loss still divides by the whole mini-batch's
    tokens). With an entropy bonus every row has a gradient.
    """
    if entropy_coef:
        return torch.ones(advantages.shape[0], dtype=torch.bool)
    return ((advantages != 0) & (mask > 0)).any(dim=1)
