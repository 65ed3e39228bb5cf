"""`benchmarks/learning.py` without a model: the run plan, and the summary, table and plot built
from fake run folders (tiny metrics.jsonl files) and fake probe scores."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pytest

from azr_agents.config import load_config

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "learning.py"
GROUPS = ("deduction/solve", "abduction/solve", "deduction/propose", "abduction/propose")
PER_SUITE = 10


@pytest.fixture(scope="module")
def learning() -> ModuleType:
    spec = importlib.util.spec_from_file_location("learning_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["learning_bench"] = module
    spec.loader.exec_module(module)
    return module


def test_plan_without_estimators_is_the_preset_per_seed(
    learning: ModuleType, tmp_path: Path
) -> None:
    args = learning.parse_args(["--seeds", "0", "1", "--steps", "3", "--out", str(tmp_path)])
    specs = learning.run_specs(args)
    assert [s["name"] for s in specs] == ["seed0", "seed1", "frozen-seed0"]
    commands = [learning.train_command(s, args) for s in specs]
    assert not any(a.startswith("estimator.") for c in commands for a in c)
    assert commands[-1][-1] == "optim.lr=0" and "optim.lr=0" not in commands[0]


def test_plan_with_estimators_runs_each_on_each_seed(learning: ModuleType, tmp_path: Path) -> None:
    args = learning.parse_args(["--estimators", "trr++,grpo:scale=false", "--seeds", "0", "1",
                                "--out", str(tmp_path), "--", "selfplay.samples_per_prompt=4"])
    specs = learning.run_specs(args)
    assert [s["name"] for s in specs] == ["trr++-seed0", "trr++-seed1", "grpo-scale=false-seed0",
                                          "grpo-scale=false-seed1", "frozen-seed0"]
    command = learning.train_command(specs[2], args)
    assert command[-2:] == ["estimator.name=grpo", "estimator.options.scale=false"]
    assert "run.seed=0" in command and "selfplay.samples_per_prompt=4" in command
    config = load_config("cpu-learn", command[command.index("--run-dir") + 2:])
    assert config.estimator.name == "grpo" and dict(config.estimator.options) == {"scale": False}
    assert config.selfplay.samples_per_prompt == 4 and config.run.seed == 0
    frozen = learning.train_command(specs[-1], args)
    assert frozen[-1] == "optim.lr=0" and not any(a.startswith("estimator.") for a in frozen)


@pytest.mark.parametrize(("argv", "message"), [
    (["--estimators", "grpo:nope=1"],
     "estimator 'grpo' has no option nope; its options: scale, eps"),
    (["--estimators", "trr++", "--", "estimator.name=rloo"], "drop the overrides"),
])
def test_bad_estimator_lists_stop_before_any_run(learning: ModuleType, argv: list[str],
                                                 message: str, capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_info:
        learning.parse_args(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def fake_benchmark(learning: ModuleType, monkeypatch: pytest.MonkeyPatch,
                   right: dict[str, int]) -> None:
    """Replace training by a run folder with a 6-step metrics.jsonl, and the probe by scores
    where run r gets the first `right[r]` items of every suite right (the base model: 2)."""
    def train(spec: dict[str, Any], args: Any) -> dict[str, Any]:
        run_dir = args.out / "runs" / spec["name"]
        run_dir.mkdir(parents=True)
        lift = 0.0 if spec["frozen"] else 0.1 * right[spec["name"]]
        lines = [{"step": step, "groups": {g: {"reward": -0.5 + lift * step, "valid": lift * step,
                                                "accuracy": lift * step, "reward_std": 0.3}
                                            for g in GROUPS}} for step in range(1, 7)]
        lines.insert(1, {"step": 1, "probe": {"accuracy": 0.0}})  # a probe line has no groups
        (run_dir / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        return {**spec, "run_dir": str(run_dir), "seconds": 60.0}

    def probe_all(runs: list[dict[str, Any]], args: Any) -> dict[str, Any]:
        items = [SimpleNamespace(suite=s) for s in learning.SUITES for _ in range(PER_SUITE)]
        suite_rows = [
            np.arange(PER_SUITE) < n for n in (2, *(right.get(r["name"], 2) for r in runs))
        ]
        scores = {
            name: np.tile(row, len(learning.SUITES)).astype(float)
            for name, row in zip(["base", *(r["name"] for r in runs)], suite_rows, strict=True)
        }
        return {"items": items, "scores": scores}

    monkeypatch.setattr(learning, "train", train)
    monkeypatch.setattr(learning, "probe_all", probe_all)


def test_estimators_compared_from_fake_runs(learning: ModuleType, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    right = {"trr++-seed0": 5, "trr++-seed1": 3, "grpo-scale=false-seed0": 2,
             "grpo-scale=false-seed1": 2}
    fake_benchmark(learning, monkeypatch, right)
    assert learning.main(["--estimators", "trr++,grpo:scale=false", "--seeds", "0", "1",
                          "--steps", "3", "--out", str(tmp_path), "--",
                          "selfplay.samples_per_prompt=4"]) == 0
    record = json.loads((tmp_path / "results.json").read_text())
    assert {"runs", "probe", "curves", "probe_scores", "probe_suites"} <= set(record)
    assert record["estimators"] == ["trr++", "grpo:scale=false"]
    trr = record["probe"]["all"]["estimators"]["trr++"]
    assert trr["seed_deltas"] == pytest.approx([0.3, 0.1]) and trr["delta"] == pytest.approx(0.2)
    assert trr["seed_sd"] == pytest.approx(np.std([0.3, 0.1], ddof=1))
    low, high = trr["ci95_seeds_items"]
    assert low <= 0.2 <= high and high - low >= trr["ci95"][1] - trr["ci95"][0]
    grpo = record["probe"]["all"]["estimators"]["grpo:scale=false"]
    assert grpo["delta"] == 0.0 and grpo["ci95"] == [0.0, 0.0]
    assert grpo["vs_first"]["against"] == "trr++" and grpo["vs_first"]["delta"] == pytest.approx(
        -0.2
    )
    assert "frozen-seed0" in record["runs"][-1]["name"] and len(record["runs"]) == 5
    table = (tmp_path / "learning.md").read_text()
    assert "| all (40) | trr++ | 0.200 | 0.400 | +0.200 [" in table
    assert "+0.300, +0.100 (0.141)" in table and "vs trr++" in table
    # first 5 steps vs last 5: valid = solve rate = 0.2 * step for these runs
    assert "| grpo-scale=false-seed1 | deduction/solve | 0.60 -> 0.80 | 0.60 -> 0.80 |" in table
    assert (tmp_path / "learning.png").stat().st_size > 10_000


def test_results_without_estimators_keep_their_layout_and_rebuild(
        learning: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_benchmark(learning, monkeypatch, {"seed0": 4, "seed1": 6})
    assert learning.main(["--seeds", "0", "1", "--steps", "3", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "results.json").read_text())
    assert [r["name"] for r in record["runs"]] == ["seed0", "seed1", "frozen-seed0"]
    assert "estimators" not in record["probe"]["all"]
    assert record["probe"]["all"]["seeds_mean"]["delta"] == pytest.approx(0.3)
    table = (tmp_path / "learning.md").read_text()
    assert "| suite | items | base | seed0 | seed1 | mean of seeds |" in table
    # --report-only rebuilds the same table from results.json, with no run folder left
    (tmp_path / "learning.md").unlink()
    for run in record["runs"]:
        (Path(run["run_dir"]) / "metrics.jsonl").unlink()
    assert learning.main(["--report-only", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "learning.md").read_text() == table


def test_report_only_without_results_is_a_clear_error(learning: ModuleType, tmp_path: Path,
                                                     capsys: Any) -> None:
    assert learning.main(["--report-only", "--out", str(tmp_path)]) == 2
    assert "no " in capsys.readouterr().err
