"""The task record shared by buffers, prompt formats, task modules and the env.

A task is stored as text (the program and the call arguments as Python source, the outputs as
`repr` strings) so that it can be shown in prompts, written to JSONL and read by people. The
executor's structured encoding of each output travels beside it in `encoded`, untouched, so the
env can compare answers by value without ever evaluating text in the trainer process.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from azr_env.errors import AZRConfigError

DEDUCTION = "deduction"
ABDUCTION = "abduction"
INDUCTION = "induction"
TASK_TYPES: tuple[str, ...] = (DEDUCTION, ABDUCTION, INDUCTION)
"""The paper's three task types. `Task.task_type` is a plain string so that a fourth type (e.g.
error prediction) needs no change here."""

ZERO_STEP = -1
"""The step recorded for the zero triplets: they exist before any proposal (seeding included)."""

ZERO_PROGRAM = "def f(a):\n    return a"
"""The identity function every zero task is built on (each task type's `seed_tasks`)."""

_PARSE_FAILURES = (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError)


def normalize_program(source: str) -> str:
    """Canonical text of a program, so that reformatting or comments do not defeat de-duplication.

    Only parses (never runs) the source; text that does not parse falls back to whitespace
    normalisation so that the function never raises.
    """
    try:
        return ast.unparse(ast.parse(source))
    except _PARSE_FAILURES:
        return "\n".join(line.rstrip() for line in source.strip().splitlines())


def normalize_input(args: str) -> str:
    """Canonical text of call arguments (`'a'` and `"a"` agree), parsed as `f(<args>)`."""
    try:
        call = ast.parse(f"f({args}\n)", mode="eval").body
        if not isinstance(call, ast.Call):  # pragma: no cover - `f(...)` always parses to a call
            return " ".join(args.split())
        # `unparse` recurses: `1+1+...+1` parses fine and is still too deep to print back.
        parts = [ast.unparse(a) for a in call.args] + [ast.unparse(k) for k in call.keywords]
    except _PARSE_FAILURES:
        return " ".join(args.split())
    return ", ".join(parts)


@dataclass(frozen=True)
class Task:
    """One validated task: a triplet (deduction, abduction) or an induction problem.

    `inputs` and `outputs` are parallel: deduction and abduction hold exactly one pair; induction
    holds all the proposer's pairs (the env decides which half the solver sees). `encoded` is
    whatever JSON-compatible value the executor returned for the outputs (conventionally a list
    with one entry per output); it is stored and saved verbatim. `None` means it was never
    computed (the zero triplets): the env must obtain it from the executor before scoring by
    value. `id` defaults to a hash of the task type and the de-duplication key, so the same task
    gets the same id in every run.
    """

    task_type: str
    program: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    message: str = ""
    encoded: Any = field(default=None, hash=False)
    step: int = 0
    id: str = ""
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Accept lists from JSON or callers; store tuples so a task is immutable.
        inputs = tuple(self.inputs)
        outputs = tuple(self.outputs)
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "outputs", outputs)
        if not isinstance(self.task_type, str) or not self.task_type:
            raise AZRConfigError("Task.task_type must be a non-empty string such as 'deduction'")
        if not isinstance(self.program, str):
            raise AZRConfigError("Task.program must be the program's source text (a str)")
        if not inputs or not all(isinstance(x, str) for x in inputs):
            raise AZRConfigError("Task.inputs must be a non-empty sequence of argument strings")
        if len(outputs) != len(inputs) or not all(isinstance(x, str) for x in outputs):
            raise AZRConfigError(
                f"Task.outputs must hold one repr string per input ({len(inputs)} inputs, "
                f"{len(outputs)} outputs)"
            )
        if not isinstance(self.message, str):
            raise AZRConfigError("Task.message must be a str (use '' when there is none)")
        if not isinstance(self.step, int) or isinstance(self.step, bool):
            raise AZRConfigError("Task.step must be an int (the training step it was added)")
        key = "\x00".join(
            [normalize_program(self.program), *(normalize_input(x) for x in inputs)]
        )
        object.__setattr__(self, "key", key)
        if not self.id:
            digest = hashlib.sha256(f"{self.task_type}\x00{key}".encode("utf-8", "surrogatepass"))
            object.__setattr__(self, "id", digest.hexdigest()[:16])

    @property
    def input(self) -> str:
        """The single input of a deduction or abduction task (the first one for induction)."""
        return self.inputs[0]

    @property
    def output(self) -> str:
        """The single output of a deduction or abduction task (the first one for induction)."""
        return self.outputs[0]

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict; `Task.from_json` reads it back unchanged."""
        return {
            "id": self.id,
            "task_type": self.task_type,
            "step": self.step,
            "program": self.program,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "message": self.message,
            "encoded": self.encoded,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Task:
        """Rebuild a task from `to_json` output (or a hand-written dict with the same keys)."""
        if not isinstance(data, Mapping):
            raise AZRConfigError(
                "a task must be a JSON object with task_type, program, inputs, outputs"
            )
        missing = [k for k in ("task_type", "program", "inputs", "outputs") if k not in data]
        if missing:
            raise AZRConfigError(f"task is missing the key(s) {missing}")
        for name in ("inputs", "outputs"):
            if isinstance(data[name], str) or not isinstance(data[name], Sequence):
                raise AZRConfigError(f"task {name!r} must be a list of strings")
        return cls(
            task_type=data["task_type"],
            program=data["program"],
            inputs=tuple(data["inputs"]),
            outputs=tuple(data["outputs"]),
            message=data.get("message", ""),
            encoded=data.get("encoded"),
            step=data.get("step", 0),
            id=data.get("id", ""),
        )
