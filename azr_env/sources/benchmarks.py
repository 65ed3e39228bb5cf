"""CRUXEval and HumanEval as task sources, from the copies shipped in `azr_env/data/`.

- CRUXEval (800 programs, each with one input and its output): deduction and abduction.
- HumanEval (164 problems): the literal inputs of each problem's test asserts, run through the
  canonical solution. Deduction and abduction take one (problem, test input) pair per key;
  induction takes a problem with at least two literal test inputs (up to `max_inputs`) and its
  docstring as the message. Problems whose tests only call the function on computed values have
  no literal input and are left out; those that import a banned module are refused by validation.

Nothing is downloaded; the files and their licences are in the package.
"""

from __future__ import annotations

import ast
import gzip
import json
from functools import cache
from importlib.resources import files
from typing import Any

from azr_env.sources.base import Candidate, TaskSource
from azr_env.task import ABDUCTION, DEDUCTION, INDUCTION

CRUXEVAL_CODECS = ("encodings.shift_jis", "encodings.rot_13", "encodings.utf_8")
"""Codecs some CRUXEval programs look up by name; the sandbox preloads them when it can."""


def _rows(path: str, *, gz: bool = False) -> list[dict[str, Any]]:
    raw = files("azr_env").joinpath(path).read_bytes()
    text = gzip.decompress(raw).decode("utf-8") if gz else raw.decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@cache
def cruxeval_rows() -> tuple[dict[str, Any], ...]:
    """The shipped CRUXEval problems (`code`, `input`, `output`, `id`), in the dataset's order."""
    return tuple(_rows("data/cruxeval/cruxeval.jsonl"))


class CruxEvalSource(TaskSource):
    """CRUXEval's 800 (program, input, output) triplets, for deduction and abduction."""

    name = "cruxeval"
    trusted = True
    preload = CRUXEVAL_CODECS

    @property
    def task_types(self) -> tuple[str, ...]:
        return (DEDUCTION, ABDUCTION)

    def size(self, task_type: str) -> int | None:
        self.check_type(task_type)
        return len(cruxeval_rows())

    def candidate(self, task_type: str, key: int) -> Candidate:
        self.check_type(task_type)
        row = cruxeval_rows()[key]
        return Candidate(task_type, row["code"], (row["input"],), (row["output"],),
                         origin=f"cruxeval/{row['id']}")


def _literal_calls(test: str, max_inputs: int) -> list[str]:
    """The argument text of `candidate(<literals>)` calls in a HumanEval test, in order, unique."""
    found: list[str] = []
    for node in ast.walk(ast.parse(test)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "candidate") or node.keywords or not node.args:
            continue
        try:
            for arg in node.args:
                ast.literal_eval(arg)
        except (ValueError, TypeError, SyntaxError, RecursionError):
            continue
        text = ", ".join(ast.unparse(arg) for arg in node.args)
        if text not in found:
            found.append(text)
        if len(found) == max_inputs:
            break
    return found


def _docstring(prompt: str, entry: str) -> str:
    for node in ast.parse(prompt).body:
        if isinstance(node, ast.FunctionDef) and node.name == entry:
            return ast.get_docstring(node) or ""
    return ""


@cache
def humaneval_problems(max_inputs: int = 10) -> tuple[tuple[str, str, tuple[str, ...], str], ...]:
    """(task id, program defining `f`, literal test inputs, docstring) of every usable problem."""
    out = []
    for row in _rows("data/humaneval/HumanEval.jsonl.gz", gz=True):
        inputs = _literal_calls(row["test"], max_inputs)
        if not inputs:
            continue
        entry = row["entry_point"]
        solution = row["prompt"] + row["canonical_solution"]
        # The entry keeps its name (its body may recurse); `f` is the door the tasks call.
        program = solution.rstrip() if entry == "f" else \
            f"{solution.rstrip()}\n\n\ndef f(*args):\n    return {entry}(*args)"
        out.append((row["task_id"], program, tuple(inputs), _docstring(row["prompt"], entry)))
    return tuple(out)


class HumanEvalSource(TaskSource):
    """HumanEval's canonical solutions on their tests' literal inputs (see the module doc)."""

    name = "humaneval"
    trusted = True

    def __init__(self, max_inputs: int = 10) -> None:
        self.max_inputs = max_inputs

    @property
    def task_types(self) -> tuple[str, ...]:
        return (DEDUCTION, ABDUCTION, INDUCTION)

    def _pairs(self) -> list[tuple[int, int]]:
        problems = humaneval_problems(self.max_inputs)
        return [(p, i) for p, (_, _, inputs, _) in enumerate(problems) for i in range(len(inputs))]

    def _induction(self) -> list[int]:
        return [p for p, (_, _, inputs, _) in enumerate(humaneval_problems(self.max_inputs))
                if len(inputs) >= 2]

    def size(self, task_type: str) -> int | None:
        self.check_type(task_type)
        return len(self._induction() if task_type == INDUCTION else self._pairs())

    def candidate(self, task_type: str, key: int) -> Candidate:
        self.check_type(task_type)
        problems = humaneval_problems(self.max_inputs)
        if task_type == INDUCTION:
            task_id, program, inputs, doc = problems[self._induction()[key]]
            return Candidate(task_type, program, inputs, message=doc, origin=task_id)
        p, i = self._pairs()[key]
        task_id, program, inputs, _ = problems[p]
        return Candidate(task_type, program, (inputs[i],), origin=f"{task_id}#{i}")
