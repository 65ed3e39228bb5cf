"""Tasks from a JSONL file: a run's `buffers.jsonl`, or any file of programs with inputs.

Each line is one JSON object with `program` and `input` (one call-argument string) or `inputs`
(a list of them), and optionally `output`/`outputs` (gold values as Python expressions, checked
against the program when validated), `message` (induction) and `task_type`. A line that names
its `task_type` serves that type only (a run's buffers name theirs); a line without one serves
deduction and abduction when it has one input and induction when it has two or more. Other keys
(`id`, `step`, `encoded`, as `buffers.jsonl` holds them) are ignored: validation recomputes them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from azr_env.errors import AZRConfigError
from azr_env.sources.base import Candidate, TaskSource
from azr_env.task import ABDUCTION, DEDUCTION, INDUCTION


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(x, str) for x in value)


def _line(data: Any, where: str) -> tuple[str | None, Candidate]:
    """The line's declared task type (or None) and its candidate (typed later)."""
    if not isinstance(data, dict):
        raise AZRConfigError(f"{where}: each line must be a JSON object with program and input(s)")
    inputs = data.get("inputs", [data["input"]] if "input" in data else None)
    outputs = data.get("outputs", [data["output"]] if "output" in data else None)
    if not isinstance(data.get("program"), str) or not isinstance(inputs, list) \
            or not _strings(inputs):
        raise AZRConfigError(
            f"{where}: needs 'program' (source text) and 'input' (one call-argument string) or "
            "'inputs' (a list of them)"
        )
    if outputs is not None and (not _strings(outputs) or len(outputs) != len(inputs)):
        raise AZRConfigError(f"{where}: 'output(s)' must hold one expression string per input")
    task_type = data.get("task_type")
    if task_type is not None and not isinstance(task_type, str):
        raise AZRConfigError(f"{where}: 'task_type' must be a string such as 'deduction'")
    message = data.get("message", "")
    if not isinstance(message, str):
        raise AZRConfigError(f"{where}: 'message' must be a string")
    candidate = Candidate(task_type or "", data["program"], tuple(inputs),
                          tuple(outputs) if outputs is not None else None, message, where)
    return task_type, candidate


class JsonlSource(TaskSource):
    """The lines of a JSONL file, each a task for the types it fits (see the module doc)."""

    name = "jsonl"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise AZRConfigError(f"no JSONL task file at {self.path}; check the path")
        self._by_type: dict[str, list[Candidate]] = {}
        with self.path.open(encoding="utf-8") as fh:
            for lineno, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                where = f"{self.path.name}:{lineno}"
                try:
                    data = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise AZRConfigError(f"{where}: not valid JSON ({exc.msg})") from None
                declared, candidate = _line(data, where)
                if declared is not None:
                    types = [declared]
                elif len(candidate.inputs) == 1:
                    types = [DEDUCTION, ABDUCTION]
                else:
                    types = [INDUCTION]
                for task_type in types:
                    self._by_type.setdefault(task_type, []).append(candidate)
        if not self._by_type:
            raise AZRConfigError(f"{self.path} holds no task")
        self.name = f"jsonl:{self.path.name}"

    @property
    def task_types(self) -> tuple[str, ...]:
        return tuple(self._by_type)

    def size(self, task_type: str) -> int | None:
        self.check_type(task_type)
        return len(self._by_type[task_type])

    def candidate(self, task_type: str, key: int) -> Candidate:
        self.check_type(task_type)
        found = self._by_type[task_type][key]
        return Candidate(task_type, found.program, found.inputs, found.outputs, found.message,
                         found.origin)
