"""The sandbox computes what Python computes: every gold output of the shipped CRUXEval set, and
every HumanEval canonical solution's tests, reproduced by a default executor (no extra preload).

Honest, deterministic use of the standard library (codecs such as shift_jis, hashlib, re,
collections, ...) must give the same value inside the sandbox as in a plain interpreter; the
sandbox's private root holds the standard library, so modules load on demand.
"""

from __future__ import annotations

import gzip
import json
from importlib import resources
from typing import Any

import pytest

from azr_env.executor import CallJob, EvalJob, Executor
from azr_env.executor.values import trees_equal

KNOWN_DIFFERENCES: dict[str, str] = {}
"""Problems whose gold output the sandbox may not reproduce, each with its reason (none today)."""


def _rows(path: str, gz: bool = False) -> list[dict[str, Any]]:
    raw = resources.files("azr_env").joinpath(path).read_bytes()
    text = gzip.decompress(raw).decode("utf-8") if gz else raw.decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def executor() -> Any:
    with Executor(workers=2, timeout_s=10.0) as ex:
        yield ex


def test_every_cruxeval_gold_output_is_reproduced(executor: Executor) -> None:
    rows = _rows("data/cruxeval/cruxeval.jsonl")
    runs = executor.run_batch([CallJob(row["code"], row["input"]) for row in rows])
    golds = executor.run_batch([EvalJob(row["output"], row["code"]) for row in rows])
    differ = {}
    for row, run, gold in zip(rows, runs, golds, strict=True):
        if not (run.ok and gold.ok and trees_equal(run.encoded, gold.encoded)):
            differ[row["id"]] = f"{run.status} {run.value or run.error} vs gold {row['output']}"
    unexplained = {k: v for k, v in differ.items() if k not in KNOWN_DIFFERENCES}
    assert unexplained == {}, unexplained
    assert len(rows) == 800


def test_cruxeval_shift_jis_sample_621(executor: Executor) -> None:
    row = next(r for r in _rows("data/cruxeval/cruxeval.jsonl") if r["id"] == "sample_621")
    result = executor.run(row["code"], row["input"])
    assert result.ok, result
    assert result.value == row["output"] == "b'13:45:56'"


def test_every_humaneval_canonical_solution_passes(executor: Executor) -> None:
    rows = _rows("data/humaneval/HumanEval.jsonl.gz", gz=True)
    programs = []
    for row in rows:
        entry = row["entry_point"]
        programs.append(
            f"{row['prompt']}{row['canonical_solution']}\n\n{row['test']}\n\n"
            f"_candidate = {entry}\n\ndef f(_):\n    check(_candidate)\n    return True\n"
        )
    results = executor.run_batch([CallJob(program, "0") for program in programs])
    failed = {row["task_id"]: f"{r.status}: {r.error}" for row, r in zip(rows, results, strict=True)
              if r.value != "True"}
    assert failed == {}, failed
    assert len(rows) == 164
