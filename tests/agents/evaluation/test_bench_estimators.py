"""`azr bench estimators`: the synthetic bandit runs each estimator on the same seeds, and a
user-registered estimator shows up with no other change."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from azr_agents.benchmarking.bandit import bench_estimators, reward_table
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
        assert np.isfinite(row["advantage_var"]) and row["seconds"] < 10


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
