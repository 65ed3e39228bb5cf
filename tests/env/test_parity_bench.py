"""`benchmarks/parity.py`: its rows go through the real env, and the two reward modes differ on
exactly the rows the reward rule says they do (valid proposals with learnability 0)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from azr_env.executor import Executor

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "parity.py"


def test_the_parity_table_scores_every_row_in_both_modes(executor: Executor) -> None:
    spec = importlib.util.spec_from_file_location("parity_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    parity = importlib.util.module_from_spec(spec)
    sys.modules["parity_bench"] = parity
    spec.loader.exec_module(parity)
    record = json.loads(json.dumps(parity.record(parity.build_table(executor))))
    assert (
        record["commit"]
        and record["date"]
        and record["command"].startswith("python benchmarks/parity.py")
    )
    rows = {(r["group"], r["completion"]): r for r in record["rows"]}
    assert len(rows) == len(parity.SOLVE_ROWS) + len(parity.PROPOSE_ROWS)
    differing = {key[1] for key, r in rows.items() if r["paper"] != r["reference"]}
    assert differing == {"valid, always solved", "valid, never solved"}
    assert rows[("deduction/propose", "valid, never solved")]["reference"] == -0.5
    assert rows[("deduction/solve", "well-formed, right")]["paper"] == 1.0
    assert rows[("deduction/solve", "malformed: empty")]["paper"] == -1.0
    # paper-7b's setting (format r1-reference, mode reference) matches the reference code on
    # every row; the default r1 format differs on the fallback forms and the </think> rows
    assert not any(r["reference_mode_differs"] for r in rows.values())
    fallbacks = {k[1] for k, r in rows.items() if r["reference"] != r["paper-7b"]}
    assert {
        "fallback `# Output: 6`",
        "fallback `<output>6</output>`",
        'fallback "the output is 6"',
        "fallback call `output(6)`",
        "fallback raw `<answer>6</answer>`",
        "no `</think>`, right fenced answer",
        "valid, no `</think>`",
    } <= fallbacks
