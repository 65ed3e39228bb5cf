"""`azr eval` from the command line: one clear error line and exit 2 for bad input, results
files, and a chart when several rows are evaluated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from azr_agents.cli import main
from azr_agents.evaluation.plots import bar_chart
from azr_agents.evaluation.runner import EvalOptions, write_results


@pytest.mark.parametrize(
    ("content", "args"),
    [
        ("not json", []),
        ('{"sample_0": "x", "sample_1234": ["y"]}', []),
        ('{"sample_0": [["nested"]]}', []),
        ('{"sample_0": ["1"]}', ["--suite", "humaneval"]),      # ids of another suite
        ('{"sample_0": ["1"]}', ["--suite", "cruxeval-o,cruxeval-i"]),  # one suite only
        ('{"sample_0": ["1"]}', ["--limit", "0"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          content: str, args: list[str]) -> None:
    src = tmp_path / "preds.json"
    src.write_text(content)
    suite = [] if "--suite" in args else ["--suite", "cruxeval-o"]
    code = main(["eval", *suite, *args, "--predictions", str(src), "--out",
                 str(tmp_path / "o.json"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("azr eval: ") and "\n" not in err


def test_unknown_suite_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--suite", "mbpp", "--predictions", "x.json"]) == 2
    assert "cruxeval-o" in capsys.readouterr().err


def test_humaneval_predictions_and_limit(tmp_path: Path) -> None:
    from azr_agents.evaluation.suites import make_suite

    problems = make_suite("humaneval").problems(4)
    src = tmp_path / "samples.jsonl"
    src.write_text("".join(json.dumps({"task_id": p.id, "completion": c}) + "\n"
                           for p in problems
                           for c in (p.data["canonical_solution"], "    raise ValueError\n")))
    out = tmp_path / "he.json"
    assert main(["eval", "--suite", "humaneval", "--predictions", str(src), "--limit", "3",
                 "--out", str(out), "--no-progress"]) == 0
    doc = json.loads(out.read_text())
    assert doc["problems"] == 3 and doc["samples"] == 2
    assert doc["pass_at_1"] == pytest.approx(50.0)
    assert doc["pass_at_k"]["2"] == pytest.approx(100.0)


def test_several_rows_write_a_chart(tmp_path: Path) -> None:
    rows = [{"model": m, "suite": s, "pass_at_1": v, "pass_at_k": {}, "reasons": {}}
            for m, s, v in [("a", "cruxeval-o", 10.0), ("a", "humaneval", 20.0),
                            ("b", "cruxeval-o", 30.0)]]
    out = tmp_path / "r.json"
    write_results(rows, EvalOptions(suites=["cruxeval-o"], out=str(out)))
    assert json.loads(out.read_text())["results"][2]["pass_at_1"] == 30.0
    assert out.with_suffix(".png").stat().st_size > 1000
    assert bar_chart(rows[:1], tmp_path / "one.png").exists()
