"""Prompt formats: rendering task prompts and parsing completions, behind one protocol.

`get_format("r1")` (the default, faithful to the reference implementation's prompts),
`get_format("r1-reference")` (the same, reading completions as the reference code does),
`get_format("plain")`
(chat models) or `get_format("completion")` (small and base models: few-shot Python text to
continue); `register_format` adds your own.
"""

from __future__ import annotations

from collections.abc import Callable

from azr_env.errors import AZRConfigError
from azr_env.formats.base import (
    PROPOSE,
    SOLVE,
    PromptFields,
    PromptFormat,
    Reference,
    Renderer,
    fenced,
    iter_fenced_blocks,
)
from azr_env.formats.completion import CompletionFormat
from azr_env.formats.plain import PlainFormat
from azr_env.formats.r1 import R1Format, reference_r1

DEFAULT_FORMAT = "r1"

_FORMATS: dict[str, Callable[[], PromptFormat]] = {
    "r1": R1Format,
    "r1-reference": reference_r1,
    "plain": PlainFormat,
    "completion": CompletionFormat,
}


def register_format(name: str, factory: Callable[[], PromptFormat]) -> None:
    """Make `get_format(name)` build formats with `factory` (e.g. a `PromptFormat` subclass)."""
    if not name or not isinstance(name, str):
        raise AZRConfigError("a format name must be a non-empty string")
    _FORMATS[name] = factory


def available_formats() -> list[str]:
    """Names `get_format` accepts."""
    return sorted(_FORMATS)


def get_format(name: str = DEFAULT_FORMAT) -> PromptFormat:
    """A new instance of the format registered as `name`."""
    factory = _FORMATS.get(name)
    if factory is None:
        raise AZRConfigError(
            f"unknown prompt format {name!r}; choose one of {available_formats()} "
            "or add yours with azr_env.formats.register_format"
        )
    return factory()


__all__ = [
    "DEFAULT_FORMAT",
    "PROPOSE",
    "SOLVE",
    "CompletionFormat",
    "PlainFormat",
    "PromptFields",
    "PromptFormat",
    "R1Format",
    "Reference",
    "Renderer",
    "available_formats",
    "fenced",
    "get_format",
    "iter_fenced_blocks",
    "register_format",
]
