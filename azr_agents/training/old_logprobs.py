"""PPO's pi_old: the sampler's log-probs, or the training model's recomputed before the update.

Why both: the PPO ratio pi/pi_old is only a ratio of the *same* model at two weight versions if
pi_old comes from the model being trained. When the sampler is a different engine (vLLM, a bf16
or int8 sampling copy on a CPU), its log-probs differ by kernel and precision noise, and that
mismatch enters every ratio (clipping fires on noise, the importance weight is biased); the
reference (veRL) therefore recomputes pi_old with the training model. Our default transformers
sampler is the training model itself, so recomputing would only cost a forward pass.
"""

from __future__ import annotations

from typing import Any

import torch

MODES = ("auto", "sampler", "recompute")


def should_recompute(mode: str, policy: Any) -> bool:
    """"auto" recomputes exactly when the policy says its sampling log-probs are approximate."""
    if mode == "auto":
        return not bool(getattr(policy, "exact_logprobs", True))
    return mode == "recompute"


class Mismatch:
    """Accumulates the per-token gap between sampler and trainer log-probs over a step.

    Tokens were drawn from the sampler, so mean(log p_sampler - log p_trainer) estimates
    KL(sampler || trainer) (the k1 estimator, unbiased but noisy); k3 = mean(r - 1 - log r) with
    r = p_trainer / p_sampler is a non-negative, lower-variance estimate of the same KL.
    """

    def __init__(self) -> None:
        self.k1 = 0.0
        self.k3 = 0.0
        self.max_abs = 0.0
        self.tokens = 0.0

    def add(self, sampler: torch.Tensor, trainer: torch.Tensor, mask: torch.Tensor) -> None:
        """Add `[rows, T]` log-probs of the same tokens; `mask` marks the real ones."""
        with torch.no_grad():
            log_ratio = (trainer.detach().float() - sampler.float()) * mask
            self.k1 += float(-log_ratio.sum())
            self.k3 += float(((log_ratio.exp() - 1 - log_ratio) * mask).sum())
            if mask.any():
                self.max_abs = max(self.max_abs, float(log_ratio.abs().max()))
            self.tokens += float(mask.sum())

    def metrics(self) -> dict[str, float]:
        if not self.tokens:
            return {}
        return {"sampler_kl": self.k1 / self.tokens, "sampler_kl_k3": self.k3 / self.tokens,
                "sampler_logprob_max_abs_diff": self.max_abs}
