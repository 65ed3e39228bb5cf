"""Reading and writing generations in CRUXEval's formats, without ever evaluating them.

Generations file (what CRUXEval's harness writes, and what `azr eval --predictions` reads):
a JSON object mapping each problem id to a list of predictions, `{"sample_0": ["pred", ...]}`.
HumanEval predictions use the same shape keyed by `task_id`, or human-eval's own JSONL samples
(`{"task_id": ..., "completion": ...}` one a line).

Scored file (what CRUXEval's `evaluate_generations.py` writes, and `--out` writes for a
CRUXEval suite): `raw_generations` (the input), `raw_scored_generations` (one list of booleans
per id), `pass_at_1` and `pass_at_5` as percentages. `pass_at_5` is null when a problem has
fewer than 5 generations: the estimator is undefined there, and the official script's value for
that case (1.0 or 0.0 depending on its version) was never measured.

Input-mode predictions may be full calls, `f(1, 'a')`, as CRUXEval writes them, or bare
arguments, `1, 'a'`, as our solver writes them. `call_arguments` strips the call with `ast`
(the text is parsed, never run).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from azr_agents.errors import AZRConfigError
from azr_agents.evaluation.passk import mean_pass_at_k

Generations = dict[str, list[str]]


def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AZRConfigError(f"cannot read predictions file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise AZRConfigError(f"predictions file {path} is not UTF-8 text") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as first:
        # human-eval samples: one JSON object per line
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise AZRConfigError(
                    f"predictions file {path} is not JSON (line {first.lineno}: {first.msg}) "
                    f"nor JSON lines (line {number})"
                ) from None
        return rows


def _from_samples(rows: list[Any], path: Path) -> Generations:
    """human-eval's JSONL samples -> {task_id: [completion, ...]}, in file order."""
    out: Generations = {}
    for number, row in enumerate(rows, start=1):
        if not (isinstance(row, Mapping) and isinstance(row.get("task_id"), str)
                and isinstance(row.get("completion"), str)):
            raise AZRConfigError(
                f"predictions file {path}, record {number}: expected {{\"task_id\": str, "
                f"\"completion\": str}}"
            )
        out.setdefault(row["task_id"], []).append(row["completion"])
    return out


def read_generations(path: str | Path, known_ids: Collection[str]) -> Generations:
    """Read a generations file and check its shape and ids; raise `AZRConfigError` otherwise.

    Every id must be a problem of the suite (`known_ids`); problems missing from the file are
    simply not scored (so a file made with `--limit` works). Each value must be a non-empty
    list of strings (a bare string is accepted as a list of one).
    """
    path = Path(path)
    data = _load_json(path)
    if isinstance(data, list):
        data = _from_samples(data, path)
    if not isinstance(data, Mapping):
        raise AZRConfigError(
            f"predictions file {path}: expected a JSON object {{\"<id>\": [\"prediction\", ...]}}, "
            f"got a JSON {type(data).__name__}"
        )
    out: Generations = {}
    for key, value in data.items():
        preds = [value] if isinstance(value, str) else value
        if not isinstance(preds, list) or not preds or not all(isinstance(p, str) for p in preds):
            raise AZRConfigError(
                f"predictions file {path}: the value of {key!r} must be a non-empty list of strings"
            )
        out[str(key)] = list(preds)
    unknown = [key for key in out if key not in known_ids]
    if unknown:
        shown = ", ".join(repr(k) for k in unknown[:3]) + (" ..." if len(unknown) > 3 else "")
        raise AZRConfigError(
            f"predictions file {path}: {len(unknown)} id(s) not in this suite ({shown}); check "
            "that the file is for this suite"
        )
    if not out:
        raise AZRConfigError(f"predictions file {path} holds no predictions")
    return out


def call_arguments(prediction: str, entry: str = "f") -> str:
    """The argument text of an input-mode prediction: `f(1, x=2)` -> `1, x=2`; bare text as is.

    Only a whole expression that is one call of `entry` is stripped (`f(1) + 1` or `g(1)` stay as
    they are and will fail as arguments). Parsing only; nothing is evaluated.
    """
    text = prediction.strip()
    try:
        node = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return prediction
    if not (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry
    ):
        return prediction
    parts = [ast.get_source_segment(text, arg) for arg in [*node.args, *node.keywords]]
    if any(part is None for part in parts):  # pragma: no cover - positions are always present
        return prediction
    return ", ".join(p for p in parts if p is not None)


def scored_document(generations: Mapping[str, Sequence[str]],
                    scored: Mapping[str, Sequence[bool]]) -> dict[str, Any]:
    """CRUXEval's scored-results object: raw and scored generations, pass@1 and pass@5 in %."""
    rows = [list(map(bool, scored[key])) for key in generations]
    p1, p5 = mean_pass_at_k(rows, 1), mean_pass_at_k(rows, 5)
    return {
        "raw_generations": {key: list(value) for key, value in generations.items()},
        "raw_scored_generations": {key: [bool(x) for x in scored[key]] for key in generations},
        "pass_at_1": None if p1 is None else 100.0 * p1,
        "pass_at_5": None if p5 is None else 100.0 * p5,
    }


def write_scored(path: str | Path, generations: Mapping[str, Sequence[str]],
                 scored: Mapping[str, Sequence[bool]]) -> None:
    """Write `scored_document` as JSON (the file CRUXEval's scorer writes)."""
    Path(path).write_text(json.dumps(scored_document(generations, scored), indent=1) + "\n")


def read_scored(path: str | Path) -> dict[str, Any]:
    """Read a scored file back (ours or CRUXEval's), checking its shape."""
    path = Path(path)
    data = _load_json(path)
    needed = ("raw_generations", "raw_scored_generations", "pass_at_1")
    if not isinstance(data, Mapping) or any(k not in data for k in needed):
        raise AZRConfigError(f"{path} is not a CRUXEval scored file (needs keys {list(needed)})")
    return dict(data)
