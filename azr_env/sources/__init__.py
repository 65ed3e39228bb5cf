"""Task sources: where solve tasks come from when no proposer writes them.

`get_source(spec)` turns what a user passes as `source=` into a `TaskSource`:

- `"generator"` (or `{"name": "generator", "depth": 2, ...}`): fresh programs from the procedural
  generator, deterministic by key, with difficulty knobs (`GeneratorConfig`);
- `"cruxeval"`, `"humaneval"`: the benchmarks shipped in `azr_env/data/`;
- a path to a `.jsonl` file: a run's `buffers.jsonl` or any file of `{program, input(s),
  output(s)}` lines;
- a `TaskSource` instance (your own subclass), used as it is.

`TaskSupply` validates a source's candidates in the sandbox once each.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from azr_env.errors import AZRConfigError
from azr_env.sources.base import Candidate, TaskSource
from azr_env.sources.benchmarks import CruxEvalSource, HumanEvalSource
from azr_env.sources.generator import GeneratorConfig, GeneratorSource
from azr_env.sources.jsonl import JsonlSource
from azr_env.sources.supply import Supplied, TaskSupply

_SOURCES: dict[str, Callable[..., TaskSource]] = {
    "generator": GeneratorSource,
    "cruxeval": CruxEvalSource,
    "humaneval": HumanEvalSource,
}

SourceSpec = str | os.PathLike[str] | Mapping[str, Any] | TaskSource
"""What `source=` accepts (see `get_source`)."""


def register_source(name: str, factory: Callable[..., TaskSource]) -> None:
    """Make `get_source(name, **options)` build sources with `factory(**options)`."""
    if not isinstance(name, str) or not name:
        raise AZRConfigError("a source name must be a non-empty string")
    _SOURCES[name] = factory


def available_sources() -> list[str]:
    """The names `get_source` accepts (besides JSONL paths and `TaskSource` instances)."""
    return sorted(_SOURCES)


def get_source(spec: SourceSpec, **options: Any) -> TaskSource:
    """The `TaskSource` a `source=` argument names; `options` go to the source's constructor."""
    if isinstance(spec, TaskSource):
        if options:
            raise AZRConfigError("options are for named sources; configure your TaskSource itself")
        return spec
    if isinstance(spec, Mapping):
        spec = dict(spec)
        name = spec.pop("name", None)
        if not isinstance(name, str):
            raise AZRConfigError(
                "a source given as a dict needs a 'name', e.g. {'name': 'generator'}"
            )
        return get_source(name, **spec, **options)
    if isinstance(spec, (str, os.PathLike)):
        text = os.fspath(spec)
        if text in _SOURCES:
            try:
                return _SOURCES[text](**options)
            except TypeError as exc:
                raise AZRConfigError(f"bad options for the {text!r} source: {exc}") from None
        if text.endswith(".jsonl") or Path(text).is_file():
            if options:
                raise AZRConfigError("a JSONL source takes no options")
            return JsonlSource(text)
    raise AZRConfigError(
        f"unknown task source {spec!r}: use one of {available_sources()}, a path to a .jsonl "
        "file, or a TaskSource"
    )


def source_for(spec: SourceSpec, induction_inputs: int) -> TaskSource:
    """`get_source(spec)`, with the generator writing `induction_inputs` inputs per induction
    task (the env's `induction_inputs`) unless the spec sets `num_inputs` itself."""
    if spec == "generator":
        return get_source(spec, num_inputs=induction_inputs)
    if isinstance(spec, Mapping) and spec.get("name") == "generator":
        return get_source({"num_inputs": induction_inputs, **spec})
    return get_source(spec)


__all__ = [
    "Candidate", "CruxEvalSource", "GeneratorConfig", "GeneratorSource", "HumanEvalSource",
    "JsonlSource", "SourceSpec", "Supplied", "TaskSource", "TaskSupply", "available_sources",
    "get_source", "register_source", "source_for",
]
