"""A prompt-length cap measured by the policy: redraw references, drop over-long solve tasks.

The env renders text and cannot count tokens (it has no tokenizer and must not import torch),
so the agent hands it a predicate, `prompt_fits(prompt) -> bool`, usually "the policy's token
count is at most its cap". With a predicate set, the core poses only prompts that fit, the way
the reference code builds its batches (`data_construction/constructor.py`,
`content_max_length`):

- a proposer prompt that is too long is posed again from a fresh draw of its references (or,
  for induction, of its program), as the reference redraws until the prompt fits. Here the draws
  are bounded: after `REDRAWS` draws of K references, one reference is dropped (K - 1 shown)
  and so on down to none, so the loop always ends; a proposer prompt that does not fit even then
  is a configuration error (the cap is below the bare instructions).
- a solve task whose prompt is too long is replaced by a fitting task of the same draw, picked
  uniformly (the reference skips it and fills the batch by repeating fitting ones). When none of
  the draw fits (the recent tasks solve draws prefer may all be long), up to `REDRAWS` uniform
  draws from the whole buffer supply the fitting tasks; the reference crashes there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from azr_env.errors import AZRConfigError
from azr_env.task import Task

PromptFits = Callable[[str], bool]
"""The policy's verdict on a rendered prompt: True when it is within the cap."""

REDRAWS = 8
"""Draws tried at each number of references (and for solve tasks) before giving up."""


def fill_from(tasks: Sequence[Task], fits: Sequence[bool], pool: Sequence[Task],
              rng: np.random.Generator) -> list[Task]:
    """`tasks` with each over-long one replaced by a task of `pool` (fitting ones), uniformly."""
    return [
        t if ok else pool[int(rng.integers(len(pool)))] for t, ok in zip(tasks, fits, strict=True)
    ]


def too_long(what: str, attempts: int) -> AZRConfigError:
    """The error when no draw gives a prompt within the cap."""
    return AZRConfigError(
        f"no {what} prompt fits the prompt-length cap after {attempts} draws: raise "
        "generation.max_prompt_tokens (or the policy's cap), or lower the env's size caps "
        "(max_program_chars, max_input_chars)"
    )
