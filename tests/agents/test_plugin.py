"""`azr train --import plugin.py` trains with a task type, a prompt format, an estimator and a
policy backend that all come from one user file (tests/agents/data/plugin_everything.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from azr_agents.config import from_yaml
from azr_agents.training.metrics import read_metrics

pytestmark = pytest.mark.slow

PLUGIN = Path(__file__).parent / "data" / "plugin_everything.py"


def test_one_plugin_file_adds_a_task_type_format_estimator_and_backend(tmp_path: Path) -> None:
    run_dir, log = tmp_path / "run", tmp_path / "plugin.log"
    command = [
        sys.executable, "-m", "azr_agents.cli", "train", "--preset", "cpu-smoke",
        "--import", str(PLUGIN), "--run-dir", str(run_dir), "--steps", "1",
        "policy.backend=tiny", "policy.chat_template=false", "estimator.name=sign",
        "selfplay.task_types=[type_prediction]", "selfplay.env.format=r1-types",
        "selfplay.batch_size=3", "selfplay.env.rewards.num_samples=2", "selfplay.seed_factor=1",
        "selfplay.max_seeding_rounds=1", "selfplay.env.buffers.num_references=1",
        "generation.max_new_tokens=12", "run.probe_every=0", "optim.micro_batch_size=4",
    ]
    env = {**os.environ, "AZR_PLUGIN_LOG": str(log), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]

    config = from_yaml((run_dir / "config.yaml").read_text())
    assert config.policy.backend == "tiny" and config.estimator.name == "sign"
    (step,) = [r for r in read_metrics(run_dir / "metrics.jsonl") if "groups" in r]
    assert set(step["groups"]) == {"type_prediction/propose", "type_prediction/solve"}
    calls = log.read_text().splitlines()
    assert calls.count("backend") == 1
    # `get` probes the estimator (0, then 4 responses) whenever the config is checked; the step
    # trains on 3 proposals and 3 answers.
    assert set(calls) == {"backend", "estimator 0", "estimator 4", "estimator 6"}
    assert calls[-1] == "estimator 6"
    prompts = [json.loads(line)["prompt"] for line in (run_dir / "samples.jsonl").open()]
    assert any("What type does f return?" in p for p in prompts)
