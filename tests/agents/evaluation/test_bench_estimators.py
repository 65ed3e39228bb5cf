"""`azr bench estimators`: the synthetic bandit runs each estimator on the same seeds, and a
user-registered estimator shows up with no other change."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from azr_agents.benchmarking.bandit import bench_estimators, reward_table
from azr_agents.benchmarking.specs import EstimatorSpec
from azr_agents.cli import bench as bench_cli
from azr_agents.cli import main

PLUGIN = '''
import torch
from azr_agents.estimators import AdvantageInput, register


@register("bench-test-centered")
@torch.no_grad()
def centered(inp: AdvantageInput) -> torch.Tensor:
    """A = r - mean(r) over the batch."""
    r = inp.float_rewards()
    return inp.broadcast(r - r.mean() if len(r) else r)
'''


def test_rewards_come_from_the_env() -> None:
    table = reward_table()
    solve = table.rewards[table.groups.index(("deduction", "solve"))][0]
    assert list(solve) == [1.0, -0.5, -0.5, -1.0]  # right, wrong, wrong, no <answer>
    propose = table.rewards[table.groups.index(("abduction", "propose"))][0]
    assert propose[0] == 0.0 and all(propose[1:] == -1.0)  # valid (no solver) vs invalid


def test_two_estimators_learn_in_a_few_steps() -> None:
    rows, _ = bench_estimators(["trr++", "rloo"], steps=30, seeds=[0, 1], lr=0.5)
    assert [r["estimator"] for r in rows] == ["trr++", "rloo"]
    for row in rows:
        assert row["final_mean_reward"] > row["initial_mean_reward"] + 0.2
        # timing is a benchmark, not a test
        assert np.isfinite(row["advantage_var"]) and row["seconds"] >= 0


def test_user_registered_estimator_appears(tmp_path: Path) -> None:
    plugin = tmp_path / "my_estimator.py"
    plugin.write_text(PLUGIN)
    out = tmp_path / "bench"
    assert main(["bench", "estimators", "--import", str(plugin), "--steps", "5", "--seeds", "0",
                 "--out", str(out)]) == 0
    names = [r["estimator"] for r in json.loads((out / "results.json").read_text())["results"]]
    assert "bench-test-centered" in names and "trr++" in names
    assert (out / "curves.png").stat().st_size > 1000


def test_unknown_estimator_exit_2(tmp_path: Path) -> None:
    assert main(["bench", "estimators", "--estimators", "nope", "--out", str(tmp_path)]) == 2


def test_script_benchmarks_pass_their_arguments_on(capfd) -> None:  # type: ignore[no-untyped-def]
    assert main(["bench", "env", "--help"]) == 0  # env.py's own --help, run as a subprocess
    assert "--llm-seconds" in capfd.readouterr().out


def test_options_lr_and_per_seed_values_end_to_end(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "bench"
    assert main(["bench", "estimators", "--estimators", "grpo:scale=false,trr++", "--seeds", "0",
                 "1", "--steps", "4", "--lr", "0.2", "--lr", "grpo=0.5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "grpo:scale=false" in printed and "+-" in printed and "t-interval" in printed
    record = json.loads((out / "results.json").read_text())
    assert record["lr"] == {"grpo:scale=false": 0.5, "trr++": 0.2}
    grpo, trr = record["results"]
    assert grpo["estimator"] == "grpo:scale=false" and grpo["options"] == {"scale": False}
    assert (grpo["lr"], trr["lr"]) == (0.5, 0.2)
    for row in (grpo, trr):
        assert [s["seed"] for s in row["per_seed"]] == [0, 1]
        finals = [s["final_mean_reward"] for s in row["per_seed"]]
        assert row["final_mean_reward"] == pytest.approx(np.mean(finals), abs=2e-4)
        low, high = row["final_mean_reward_ci95"]
        assert low <= row["final_mean_reward"] <= high
        assert set(row["per_seed"][0]["final_reward"]) == set(row["final_reward"])


def test_options_change_the_estimator() -> None:
    rows, _ = bench_estimators([EstimatorSpec("grpo"), EstimatorSpec("grpo", {"scale": False})],
                               steps=5, seeds=[0], lr=0.5)
    assert [r["estimator"] for r in rows] == ["grpo", "grpo:scale=false"]
    assert rows[0]["advantage_var"] != rows[1]["advantage_var"]  # unscaled: r - mean, not z-scores


def test_bad_spec_and_lr_exit_2_with_the_reason(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["bench", "estimators", "--estimators", "grpo:scal=false", "--out",
                 str(tmp_path)]) == 2
    assert "estimator 'grpo' has no option scal; its options: scale, eps" in capsys.readouterr().err
    assert main(["bench", "estimators", "--estimators", "trr++", "--lr", "rloo=0.1"]) == 2
    assert "no estimator 'rloo' in the list" in capsys.readouterr().err


def test_loop_forwards_to_the_learning_benchmark(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    calls = []
    monkeypatch.setattr(
        bench_cli.subprocess, "call", lambda command, cwd: calls.append(command) or 0
    )
    assert main(["bench", "estimators", "--loop", "--estimators", "trr++,grpo:scale=false",
                 "--seeds", "0", "1", "--steps", "3", "--out", str(tmp_path),
                 "selfplay.samples_per_prompt=4"]) == 0
    (command,) = calls
    assert command[1].endswith("benchmarks/learning.py")
    assert command[2:] == ["--estimators", "trr++,grpo:scale=false", "--seeds", "0", "1",
                           "--steps", "3", "--out", str(tmp_path.resolve()), "--",
                           "selfplay.samples_per_prompt=4"]
    assert main(["bench", "estimators", "--loop"]) == 2  # each estimator costs runs: name them
    assert main(["bench", "estimators", "--loop", "--estimators", "trr++", "--lr", "0.1"]) == 2
    assert main(["bench", "estimators", "--estimators", "trr++", "optim.lr=0"]) == 2
    assert len(calls) == 1
