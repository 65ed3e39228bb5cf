"""Proposals whose output is too long, kept as tasks no answer can solve
(`EnvConfig.long_outputs="unsolvable"`).

The reference's executor cuts `str(output)` over 400 characters to its first and last 200 with
`...` between; the cut text is stored as the gold answer, so the task stays in the buffer, gets
a valid proposal's reward, and (but by a lucky literal) is never solved. Here the sandbox refuses
an output repr over `executor.max_output_chars` before any value crosses back (the trusted side
only ever sees value trees, never a job's own text), so there is no text to cut. With the option
on, such an input's gold becomes a marker instead:

- its tree has a tag the codec never produces, so `trees_equal` (hence every answer check) never
  matches it, and deduction's exact-text shortcut skips it (`is_unsolvable`);
- its shown text says only that the output was too long.

Only per-call `output_too_long` items of both calls of the determinism check are kept (one long
and one not is still `output_too_long`, as before). A job could forge that item; it gains
nothing by it, since returning a long value has the same effect.
"""

from __future__ import annotations

from typing import Any

from azr_env.executor import ExecResult
from azr_env.executor.checks import UNSOLVABLE_TAG, is_unsolvable

__all__ = ["LONG_OUTPUT_MODES", "is_unsolvable", "marker_text", "marker_tree", "too_long"]

LONG_OUTPUT_MODES: tuple[str, ...] = ("invalid", "unsolvable")


def marker_tree(max_chars: int) -> list[Any]:
    """The gold tree of a too-long output: never equal to any value's tree."""
    return [UNSOLVABLE_TAG, max_chars]


def marker_text(max_chars: int) -> str:
    """What solvers are shown for a too-long output."""
    return f"<an output whose repr is over {max_chars} characters>"


def too_long(first: ExecResult, second: ExecResult) -> bool:
    """Whether both calls on one input were refused for an over-long output."""
    return all(r.status == "error" and r.reason == "output_too_long" for r in (first, second))
