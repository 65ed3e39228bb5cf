"""CRUXEval's gold answers, posed through `reset(options=...)`, score 1; other problems' don't.

Uses the copy shipped in the package (`azr_env/data/cruxeval`), first 50 problems for speed.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from env_helpers import MakeEnv, answer, block

N = 50


def problems() -> list[dict[str, Any]]:
    text = resources.files("azr_env").joinpath("data/cruxeval/cruxeval.jsonl").read_text("utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return rows[:N]


def test_package_ships_cruxeval_with_its_licence() -> None:
    root = resources.files("azr_env").joinpath("data/cruxeval")
    assert root.joinpath("LICENSE").read_text("utf-8").strip()
    assert len(problems()) == N


@pytest.mark.parametrize(("task_type", "kind", "field"),
                         [("deduction", "output", "output"), ("abduction", "input", "input")])
def test_gold_answers_score_one_and_shuffled_answers_do_not(
    make_env: MakeEnv, task_type: str, kind: str, field: str
) -> None:
    env = make_env(task_type, "solve")
    rows = problems()
    gold, shuffled = [], []
    for i, row in enumerate(rows):
        task = {"program": row["code"], "input": row["input"], "output": row["output"]}
        other = rows[(i + 7) % len(rows)][field]
        for prediction, scores in ((row[field], gold), (other, shuffled)):
            env.reset(options={"task": task})
            _, reward, *_, info = env.step(answer(block(kind, prediction)))
            scores.append((reward, row["id"], info["reason"]))
    assert [g for g in gold if g[0] != 1.0] == []
    assert sum(r == 1.0 for r, *_ in shuffled) <= 2, [s for s in shuffled if s[0] == 1.0]
