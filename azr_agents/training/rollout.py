"""Samples of one self-play step, and their packing into tensors for the update."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Sample:
    """One trained completion: the prompt, what the policy wrote, what the env made of it."""

    prompt: str
    text: str
    token_ids: list[int]
    logprobs: list[float]
    reward: float
    task_type: str
    role: str
    prompt_id: str
    info: dict[str, Any] = field(default_factory=dict)
    advantage: float | None = None
    """The estimator's advantage, averaged over the completion's tokens (None: not trained on)."""

    @property
    def group(self) -> tuple[str, str]:
        return (self.task_type, self.role)


def pad(rows: list[list[float]], width: int) -> torch.Tensor:
    """Right-pad float rows with zeros to `width` columns."""
    out = torch.zeros(len(rows), width, dtype=torch.float32)
    for i, row in enumerate(rows):
        if row:
            out[i, : len(row)] = torch.tensor(row[:width], dtype=torch.float32)
    return out


def response_mask(samples: list[Sample]) -> torch.Tensor:
    """[N, T] with 1.0 on each sample's completion tokens (T = the longest completion)."""
    width = max((len(s.token_ids) for s in samples), default=0)
    mask = torch.zeros(len(samples), max(width, 1), dtype=torch.float32)
    for i, sample in enumerate(samples):
        mask[i, : len(sample.token_ids)] = 1.0
    return mask
