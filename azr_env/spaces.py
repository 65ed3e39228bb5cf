"""Spaces for text observations and actions that accept any string a language model can write.

`gymnasium.spaces.Text` checks every character against a finite charset, and a charset holding
all of Unicode would cost hundreds of megabytes. `AnyText` keeps `Text`'s length bounds and its
sampling (from printable ASCII, which is what `check_env` feeds the env) but accepts any `str`
within the bounds, so prompts and completions in any script are members of the space.
"""

from __future__ import annotations

import string
from typing import Any

from gymnasium import spaces

PRINTABLE = string.printable
"""The characters `sample()` draws from (spaces, newlines and punctuation included)."""


class AnyText(spaces.Text):
    """A `Text` space whose members are all strings of `min_length..max_length` characters."""

    def __init__(self, max_length: int, *, min_length: int = 0, seed: Any = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=PRINTABLE, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"AnyText({self.min_length}, {self.max_length})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, AnyText)
            and self.min_length == other.min_length
            and self.max_length == other.max_length
        )

    __hash__ = None  # type: ignore[assignment]


NAME_CHARSET = string.ascii_lowercase + string.digits + "_"
"""Characters of role and task-type names (`propose`, `deduction`, `error_prediction`, ...)."""


def name_space(max_length: int = 64) -> spaces.Text:
    """The space of the `role` and `task_type` observation entries."""
    return spaces.Text(max_length, min_length=1, charset=NAME_CHARSET)


def observation_space(max_prompt_chars: int) -> spaces.Dict:
    """`Dict(prompt=AnyText, role=Text, task_type=Text)`: the env's observation space."""
    return spaces.Dict(
        {
            "prompt": AnyText(max_prompt_chars),
            "role": name_space(),
            "task_type": name_space(),
        }
    )
