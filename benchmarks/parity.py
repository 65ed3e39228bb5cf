"""Parity table: the rewards a fixed set of completions get in reward modes `paper` and `reference`.

Not a speed benchmark: it makes the differences between the paper, the reference code
(LeapLabTHU/Absolute-Zero-Reasoner) and this project visible as numbers (issue 12). Every row
goes through the real env and its sandbox:

- solve rows: one deduction task (`f(a) = a * 2` on `3`, gold output `6`) answered in the R1
  format well-formed, in each answer form the reference's parser falls back to (`# Output:`,
  `<output>`, "the output is", the raw `<answer>` text), without `</think>`, and malformed;
- propose rows: one valid deduction proposal scored against scripted solvers that always,
  never, or half the time solve it (the learnability the two modes disagree on), plus a
  proposal without `</think>` and a malformed one.

Columns: the default format `r1` in reward modes `paper` and `reference`, and `paper-7b`'s
setting, format `r1-reference` (the reference's `</think>` check and answer fallbacks) in mode
`reference`. The column `reference parser (expected)` is what the reference code
(`rewards/reward_managers.py`, `custom_evaluate.py`) gives, read from its source; it is not
executed here (the reference is not a dependency), so read it as the claim to check, not a
measurement. **gap** marks a row where the `paper-7b` column disagrees with it: a difference
not covered by an option.

Prints the table and writes it, with commit, date and command, to
`benchmarks/results/parity.json`.

    python benchmarks/parity.py
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# Score with this checkout's azr_env, whatever copy is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym

import azr_env  # noqa: F401  (registers the ids)
from azr_env.executor import Executor
from benchmarks.provenance import commit

RESULTS = Path(__file__).resolve().parent / "results" / "parity.json"
PROGRAM = "def f(a):\n    return a * 2"
TASK = {"program": PROGRAM, "inputs": ["3"]}


def r1(body: str, think: bool = True) -> str:
    """An R1 completion (the prompt ends in `<think>`) whose `<answer>` holds `body`."""
    return (
        "I trace f(3).</think>\n" if think else "I trace f(3).\n"
    ) + f"<answer>\n{body}\n</answer>"


@dataclass(frozen=True)
class Row:
    group: str
    name: str
    completion: str
    expected_reference: float | None
    """What issue 12 says the reference code gives (None: no claim)."""
    solver: str = ""
    """Propose rows: the scripted solver's behaviour (`always`, `never`, `half`)."""


SOLVE_ROWS = [
    Row("deduction/solve", "well-formed, right", r1("```output\n6\n```"), 1.0),
    Row("deduction/solve", "well-formed, wrong", r1("```output\n7\n```"), -0.5),
    Row("deduction/solve", "fallback `# Output: 6`", r1("# Output: 6"), 1.0),
    Row("deduction/solve", "fallback `<output>6</output>`", r1("<output>6</output>"), 1.0),
    Row("deduction/solve", "fallback \"the output is 6\"", r1("the output is 6"), 1.0),
    Row("deduction/solve", "fallback call `output(6)`", r1("output(6)"), 1.0),
    Row("deduction/solve", "fallback raw `<answer>6</answer>`", r1("6"), 1.0),
    Row("deduction/solve", "text between `</think>` and `<answer>`",
        "I trace f(3).</think> so:\n<answer>\n```output\n6\n```\n</answer>", -1.0),
    Row("deduction/solve", "no `</think>`, right fenced answer",
        r1("```output\n6\n```", think=False), -1.0),
    Row("deduction/solve", "malformed: no `<answer>`", "the answer is 6", -1.0),
    Row("deduction/solve", "malformed: empty", "", -1.0),
]
PROPOSAL = r1(f"```python\n{PROGRAM}\n```\n```input\n3\n```")
PROPOSE_ROWS = [
    Row("deduction/propose", "valid, always solved", PROPOSAL, -0.5, solver="always"),
    Row("deduction/propose", "valid, never solved", PROPOSAL, -0.5, solver="never"),
    Row("deduction/propose", "valid, solved 4 of 8", PROPOSAL, 0.5, solver="half"),
    Row("deduction/propose", "valid, no `</think>`",
        r1(f"```python\n{PROGRAM}\n```\n```input\n3\n```",
                                                      think=False), -1.0, solver="half"),
    Row("deduction/propose", "malformed: no `<answer>`", f"```python\n{PROGRAM}\n```", -1.0,
        solver="half"),
]


def scripted_solver(behaviour: str) -> Callable[[list[str]], list[str]]:
    """A stand-in policy for the learnability estimate: the gold output every time, never, or
    on every other attempt."""

    def solve(prompts: list[str]) -> list[str]:
        right = {"always": lambda i: True, "never": lambda i: False, "half": lambda i: i % 2 == 0}[
            behaviour
        ]
        return [
            r1("```output\n6\n```" if right(i) else "```output\n7\n```")
            for i in range(len(prompts))
        ]

    return solve


COLUMNS = {"paper": ("r1", "paper"), "reference": ("r1", "reference"),
           "paper-7b": ("r1-reference", "reference")}
"""Column name -> (prompt format, reward mode)."""


def score(executor: Executor, row: Row, mode: str, fmt: str = "r1") -> tuple[float, str]:
    """The env's reward and reason for one row in one reward mode and format."""
    rewards = {"mode": mode}
    if row.group.endswith("solve"):
        env = gym.make("azr_env/Deduction-Solve-v0", executor=executor, rewards=rewards, format=fmt)
        env.reset(options={"task": TASK})
    else:
        env = gym.make("azr_env/Deduction-Propose-v0", executor=executor, rewards=rewards,
                       solver=scripted_solver(row.solver), format=fmt)
        env.reset(seed=0)
    try:
        _, reward, *_, info = env.step(row.completion)
    finally:
        env.close()
    return float(reward), str(info.get("reason", ""))


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}"


def build_table(executor: Executor) -> list[dict[str, Any]]:
    """Every row scored in every reward mode."""
    table: list[dict[str, Any]] = []
    for row in SOLVE_ROWS + PROPOSE_ROWS:
        entry: dict[str, Any] = {"group": row.group, "completion": row.name, "solver": row.solver,
                                 "reference_parser_expected": row.expected_reference}
        for column, (fmt, mode) in COLUMNS.items():
            entry[column], entry[f"{column}_reason"] = score(executor, row, mode, fmt)
        # A parity gap: paper-7b's setting (meant to follow the reference code) disagrees with
        # what the reference code gives.
        entry["reference_mode_differs"] = entry["paper-7b"] != row.expected_reference
        table.append(entry)
    return table


def markdown(table: list[dict[str, Any]]) -> str:
    lines = ["| group | completion | `r1`, mode `paper` | `r1`, mode `reference` | `r1-reference`, "
             "mode `reference` (paper-7b) | reference code | reason (`r1`) |",
             "|---|---|---|---|---|---|---|"]
    for e in table:
        mark = " **gap**" if e["reference_mode_differs"] else ""
        lines.append(f"| {e['group']} | {e['completion']} | {_number(e['paper'])} | "
                     f"{_number(e['reference'])} | {_number(e['paper-7b'])} | "
                     f"{_number(e['reference_parser_expected'])}{mark} | {e['paper_reason']} |")
    return "\n".join(lines)


def record(table: list[dict[str, Any]]) -> dict[str, Any]:
    """The table with what is needed to reproduce it."""
    return {"benchmark": "parity", "commit": commit(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(["python", "benchmarks/parity.py", *sys.argv[1:]]), "rows": table}


def main() -> None:
    with Executor(workers=1) as executor:
        table = build_table(executor)
    print(markdown(table))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record(table), indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
