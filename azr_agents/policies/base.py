"""The policy contract shared by every generation backend.

The trainer, the environment's solver callable and `azr eval` only talk to a `Policy`: they
sample completions (with the log-probs of the distribution actually sampled from, which PPO
uses as its "old" log-probs) and recompute log-probs with gradients for the update.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch


@dataclass
class Generation:
    """One sampled completion.

    `token_ids` are the sampled tokens (stop token or stop string included, so that recomputing
    log-probs on them reproduces the sampled sequence); `text` is their decoding with special
    tokens removed. `logprobs[i]` is the log-probability of `token_ids[i]` under the distribution
    it was drawn from, i.e. after temperature and top-p. `prompt_index` is the position of the
    prompt in the `prompts` list given to `generate` (with `n > 1`, n consecutive generations
    share it). `finish_reason` is `"stop"` (EOS or a stop string) or `"length"`.
    """

    text: str
    token_ids: list[int]
    logprobs: list[float]
    prompt_index: int
    finish_reason: str = "length"


@dataclass
class LogprobBatch:
    """Per-token log-probs and entropies of completions, right-padded to the longest one.

    All tensors have shape `[batch, max_completion_tokens]`; `mask` is 1.0 on real completion
    tokens and 0.0 on padding. `logprobs` and `entropies` carry gradients when computed in
    grad mode, so a PPO loss can be built on them directly.
    """

    logprobs: torch.Tensor
    entropies: torch.Tensor
    mask: torch.Tensor
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Policy(Protocol):
    """What a generation backend offers the trainer.

    `model` is the trainable `torch.nn.Module` (the optimizer's parameters live there) and
    `tokenizer` the matching Hugging Face tokenizer.
    """

    model: Any
    tokenizer: Any

    def encode(self, prompt: str) -> list[int]:
        """The prompt's token ids exactly as the model sees them (chat template applied)."""
        ...

    def generate(
        self,
        prompts: list[str],
        max_new_tokens: int,
        temperature: float,
        top_p: float = 1.0,
        n: int = 1,
        stop: list[str] | None = None,
    ) -> list[Generation]:
        """Sample `n` completions per prompt; returns `len(prompts) * n` generations in prompt
        order."""
        ...

    def logprobs(
        self,
        prompts: list[str],
        completions: Sequence[str | Sequence[int]],
        temperature: float = 1.0,
        top_p: float = 1.0,
    ) -> LogprobBatch:
        """Recompute the completions' log-probs under the current weights, with gradients."""
        ...

    def sync_weights(self) -> None:
        """Make generation use the current trainable weights (call after each optimizer step)."""
        ...
