"""The self-play trainer end to end on a tiny random model: run folder, custom estimators, and
exact resumption after a SIGKILL in the middle of a step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from azr_agents import estimators
from azr_agents.checkpoint import checkpoint_step, latest_checkpoint
from azr_agents.config import AZRConfig, from_yaml, load_config
from azr_agents.metrics import read_metrics

pytestmark = pytest.mark.slow

TINY_OVERRIDES = [
    "selfplay.batch_size=2", "selfplay.learnability_samples=2", "selfplay.seed_factor=1",
    "selfplay.max_seeding_rounds=1", "selfplay.references=1", "generation.max_new_tokens=12",
    "run.probe_size=2", "run.checkpoint_every=1", "optim.micro_batch_size=4",
]


def tiny_config(model_dir: Path, *extra: str) -> AZRConfig:
    return load_config("cpu-smoke", [*TINY_OVERRIDES, f"policy.model={model_dir}", *extra])


def test_a_short_run_writes_a_complete_run_folder(tiny_model_dir: Path, tmp_path: Path) -> None:
    from azr_agents.run import run_training

    config = tiny_config(tiny_model_dir, "run.steps=2")
    run_dir = tmp_path / "run"
    summary = run_training(config, run_dir)
    assert set(summary["groups"]) == {f"{t}/{r}" for t in ("deduction", "abduction", "induction")
                                      for r in ("propose", "solve")}
    records = read_metrics(run_dir / "metrics.jsonl")
    assert [r["step"] for r in records if "groups" in r] == [1, 2]
    assert [r["step"] for r in records if "probe" in r] == [1, 2]
    for record in records:
        if "groups" in record:
            assert set(record["time_s"]) >= {"generation", "env", "update", "step"}
            assert all(-1.0 <= g["reward"] <= 1.0 for g in record["groups"].values())
    assert from_yaml((run_dir / "config.yaml").read_text()) == config
    assert (run_dir / "plots" / "selfplay.png").stat().st_size > 1000
    assert (run_dir / "plots" / "probe.png").exists()
    assert any((run_dir / "tensorboard").iterdir())
    checkpoint = latest_checkpoint(run_dir / "checkpoints")
    assert checkpoint is not None and checkpoint_step(checkpoint) == 2
    assert (checkpoint / "buffers.jsonl").exists() and (run_dir / "buffers.jsonl").exists()


def test_a_custom_estimator_trains_a_step_without_touching_the_trainer(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azr_agents.policies import load_policy
    from azr_agents.selfplay import SelfPlaySession
    from azr_agents.trainer import Trainer

    monkeypatch.setattr(estimators.registry, "_REGISTRY", dict(estimators.registry._REGISTRY))
    calls: list[int] = []

    @estimators.register("test-constant")
    def constant(batch: estimators.AdvantageInput) -> torch.Tensor:
        calls.append(len(batch.groups))
        return batch.broadcast(torch.ones(len(batch.groups)))

    config = tiny_config(tiny_model_dir, "estimator.name=test-constant", "optim.lr=1e-2")
    policy = load_policy(str(tiny_model_dir))
    before = [p.detach().clone() for p in policy.model.parameters()]
    with SelfPlaySession(config.selfplay) as session:
        trainer = Trainer(config, policy, session, tmp_path)
        metrics = trainer.step()
    assert calls[-1] == 12  # 2 prompts x 6 task-role groups at once (get() probes with 0 first)
    assert metrics["update"]["trained_samples"] == 12
    changed = any(not torch.equal(a, b) for a, b in zip(before, policy.model.parameters(), strict=True))
    assert changed, "a positive advantage on every token must move the weights"


def test_a_run_killed_mid_step_resumes_with_the_checkpointed_buffers_and_step(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "killed"
    command = [sys.executable, "-m", "azr_agents.cli", "train", "--run-dir", str(run_dir),
               "--steps", "50", *TINY_OVERRIDES, f"policy.model={tiny_model_dir}", "run.probe_every=0"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        checkpoints = run_dir / "checkpoints"
        give_up = time.monotonic() + 240
        while time.monotonic() < give_up:
            found = latest_checkpoint(checkpoints) if checkpoints.exists() else None
            if found is not None and checkpoint_step(found) >= 2:
                break
            assert process.poll() is None, process.stderr.read().decode()[-2000:] if process.stderr else ""
            time.sleep(0.2)
        time.sleep(0.5)  # into the next step
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    checkpoint = latest_checkpoint(run_dir / "checkpoints")
    assert checkpoint is not None
    step = checkpoint_step(checkpoint)
    assert not list((run_dir / "checkpoints").glob(".tmp-*")) or step >= 2  # partial writes never count
    saved_buffers = [json.loads(line) for line in (checkpoint / "buffers.jsonl").read_text().splitlines()]

    from azr_agents.policies import load_policy
    from azr_agents.selfplay import SelfPlaySession, load_buffers
    from azr_agents.trainer import Trainer

    config = from_yaml((run_dir / "config.yaml").read_text())
    policy = load_policy(config.policy.model)
    buffers = load_buffers(checkpoint / "buffers.jsonl", config.selfplay)
    with SelfPlaySession(config.selfplay, seed=config.run.seed + step, buffers=buffers) as session:
        trainer = Trainer(config, policy, session, run_dir)
        assert trainer.resume(checkpoint) == step
        resumed = sorted(t.id for b in session.buffers for t in b.tasks)
        assert resumed == sorted(row["id"] for row in saved_buffers)
        assert [r["step"] for r in read_metrics(run_dir / "metrics.jsonl") if "groups" in r] == list(
            range(1, step + 1))
        trainer.step()
        assert trainer.step_index == step + 1


def test_two_processes_train_one_step_with_averaged_gradients(tiny_model_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "ddp"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "-m", "azr_agents.cli", "train", "--run-dir", str(run_dir), "--steps", "1",
               *TINY_OVERRIDES, f"policy.model={tiny_model_dir}", "run.probe_every=0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    checkpoint = latest_checkpoint(run_dir / "checkpoints")
    assert checkpoint is not None and checkpoint_step(checkpoint) == 1
    assert (checkpoint / "buffers-rank1.jsonl").exists(), "every process's buffers are saved"
    assert [r["step"] for r in read_metrics(run_dir / "metrics.jsonl") if "groups" in r] == [1]
