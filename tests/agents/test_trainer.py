"""The self-play trainer end to end on a tiny random model: run folder, custom estimators, and
exact resumption after a SIGKILL in the middle of a step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from azr_agents import estimators
from azr_agents.config import AZRConfig, from_yaml, load_config
from azr_agents.run_folder import STATE, latest_checkpoint
from azr_agents.training.checkpoint import checkpoint_step
from azr_agents.training.metrics import read_metrics
from azr_agents.training.samples import read_samples

pytestmark = pytest.mark.slow

TINY_OVERRIDES = [
    "selfplay.batch_size=2", "selfplay.env.rewards.num_samples=2", "selfplay.seed_factor=1",
    "selfplay.max_seeding_rounds=1", "selfplay.env.buffers.num_references=1",
    "generation.max_new_tokens=12",
    "run.probe_size=2", "run.checkpoint_every=1", "optim.micro_batch_size=4",
]


def tiny_config(model_dir: Path, *extra: str) -> AZRConfig:
    return load_config("cpu-smoke", [*TINY_OVERRIDES, f"policy.model={model_dir}", *extra])


def test_a_short_run_writes_a_complete_run_folder(tiny_model_dir: Path, tmp_path: Path) -> None:
    from azr_agents.training.run import run_training

    config = tiny_config(tiny_model_dir, "run.steps=2")
    run_dir = tmp_path / "run"
    summary = run_training(config, run_dir)
    assert set(summary["groups"]) == {f"{t}/{r}" for t in ("deduction", "abduction", "induction")
                                      for r in ("propose", "solve")}
    records = read_metrics(run_dir / "metrics.jsonl")
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():  # strict JSON: no NaN
        json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in metrics.jsonl"))
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
    from azr_agents.training.session import SelfPlaySession
    from azr_agents.training.trainer import Trainer

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
    changed = any(
        not torch.equal(a, b) for a, b in zip(before, policy.model.parameters(), strict=True)
    )
    assert changed, "a positive advantage on every token must move the weights"


def test_a_run_killed_mid_step_resumes_with_the_checkpointed_buffers_and_step(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "killed"
    command = [sys.executable, "-m", "azr_agents.cli", "train", "--run-dir", str(run_dir),
               "--steps", "50", *TINY_OVERRIDES, f"policy.model={tiny_model_dir}",
               "run.probe_every=0"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        checkpoints = run_dir / "checkpoints"
        give_up = time.monotonic() + 240
        while time.monotonic() < give_up:
            found = latest_checkpoint(checkpoints) if checkpoints.exists() else None
            if found is not None and checkpoint_step(found) >= 2:
                break
            assert process.poll() is None, (
                process.stderr.read().decode()[-2000:] if process.stderr else ""
            )
            time.sleep(0.2)
        time.sleep(0.5)  # into the next step
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    root = run_dir / "checkpoints"
    checkpoint = latest_checkpoint(root)
    assert checkpoint is not None
    step = checkpoint_step(checkpoint)
    assert step >= 2
    # What a kill interrupts stays under a temporary name: every step-* folder is complete, and a
    # partial write (left by the kill if it hit a save, else made here) is never taken for one.
    assert all((p / STATE).exists() for p in root.glob("step-*"))
    partial = root / f".tmp-step-{step + 1:06d}-1"
    partial.mkdir(exist_ok=True)
    (partial / "model.safetensors").write_bytes(b"cut short")
    assert latest_checkpoint(root) == checkpoint
    saved_buffers = [
        json.loads(line) for line in (checkpoint / "buffers.jsonl").read_text().splitlines()
    ]

    from azr_agents.policies import load_policy
    from azr_agents.training.session import SelfPlaySession, load_buffers
    from azr_agents.training.trainer import Trainer

    config = from_yaml((run_dir / "config.yaml").read_text())
    policy = load_policy(config.policy.model)
    buffers = load_buffers(checkpoint / "buffers.jsonl", config.selfplay)
    with SelfPlaySession(config.selfplay, seed=config.run.seed, buffers=buffers) as session:
        trainer = Trainer(config, policy, session, run_dir)
        assert trainer.resume(checkpoint) == step
        resumed = sorted(t.id for b in session.buffers for t in b.tasks)
        assert resumed == sorted(row["id"] for row in saved_buffers)
        assert [
            r["step"] for r in read_metrics(run_dir / "metrics.jsonl") if "groups" in r
        ] == list(range(1, step + 1))
        trainer.step()
        assert trainer.step_index == step + 1


def test_two_processes_train_one_step_with_averaged_gradients(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "ddp"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
               "2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "-m", "azr_agents.cli", "train", "--run-dir", str(run_dir), "--steps", "1",
               *TINY_OVERRIDES, f"policy.model={tiny_model_dir}", "run.probe_every=0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    checkpoint = latest_checkpoint(run_dir / "checkpoints")
    assert checkpoint is not None and checkpoint_step(checkpoint) == 1
    assert (checkpoint / "buffers-rank1.jsonl").exists(), "every process's buffers are saved"
    assert [r["step"] for r in read_metrics(run_dir / "metrics.jsonl") if "groups" in r] == [1]


def _comparable(value: Any) -> Any:
    """Nested states with tensors turned into lists, so that == compares them exactly."""
    if isinstance(value, torch.Tensor):
        return (str(value.dtype), value.tolist())
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_comparable(v) for v in value]
    return value


def _run_record(run_dir: Path) -> dict[str, Any]:
    """Everything a run's future depends on or reported, from its run folder (timings left out)."""
    checkpoint = latest_checkpoint(run_dir / "checkpoints")
    assert checkpoint is not None
    timings = ("time_s", "tokens_per_s", "peak_rss_gib")
    return {
        "step": checkpoint_step(checkpoint),
        "weights": _comparable(load_file(str(checkpoint / "model.safetensors"))),
        "optimizer": _comparable(torch.load(checkpoint / "optimizer.pt", weights_only=False)),
        "state": _comparable(torch.load(checkpoint / "state.pt", weights_only=False)),
        "buffers": (checkpoint / "buffers.jsonl").read_text(),
        "metrics": [{k: v for k, v in r.items() if k not in timings}
                    for r in read_metrics(run_dir / "metrics.jsonl")],
        "samples": read_samples(run_dir / "samples.jsonl"),
    }


def test_resume_is_exact_two_steps_equal_one_step_save_resume_one_step(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from azr_agents.training.run import run_training

    # reinforce's moving baseline gives non-zero advantages even when every reward is the same,
    # so the weights and AdamW's moments really move, and the estimator has a state to resume.
    config = tiny_config(tiny_model_dir, "estimator.name=reinforce", "optim.lr=1e-2",
                         "policy.seed=0", "run.steps=2")
    run_training(config, tmp_path / "straight")
    straight = _run_record(tmp_path / "straight")

    interrupted = tmp_path / "interrupted"
    config.run.steps = 1
    run_training(config, interrupted)
    # Lines of a step the crash threw away (logged, never checkpointed) are dropped on resume.
    with (interrupted / "metrics.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": 2, "groups": {}}) + "\n")
    with (interrupted / "samples.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": 2, "completion": "lost"}) + "\n")
    config.run.steps = 2
    run_training(config, interrupted, resume=True)
    resumed = _run_record(interrupted)

    assert straight["step"] == resumed["step"] == 2
    moments = torch.load(latest_checkpoint(tmp_path / "straight" / "checkpoints") / "optimizer.pt",  # type: ignore[operator]
                         weights_only=False)["state"]
    assert sum(float(m["exp_avg"].abs().sum()) for m in moments.values()) > 0, (
        "the update moves AdamW"
    )
    for key in ("weights", "optimizer", "state", "buffers", "metrics", "samples"):
        assert straight[key] == resumed[key], key
    assert set(straight["state"]) >= {"python_rng", "torch_rng", "policy_rng", "session",
                                      "estimator"}
    assert [r["step"] for r in resumed["samples"]] == sorted(r["step"] for r in resumed["samples"])


class HalfWellFormed:
    """The tiny policy, except that every second sample of a prompt is a well-formed answer (a
    ```output, ```input and ```python block: right or wrong, never the malformed -1), so that
    rewards differ within the samples of a prompt."""

    ANSWER = ("</think> <answer>\n```output\n1\n```\n```input\n1\n```\n"
              "```python\ndef f(a):\n    return a\n```\n</answer>")

    def __init__(self, policy: Any) -> None:
        self.policy, self.model, self.tokenizer = policy, policy.model, policy.tokenizer

    def generate(self, prompts: list[str], max_new_tokens: int, temperature: float,
                 top_p: float = 1.0, n: int = 1, stop: list[str] | None = None) -> list[Any]:
        from azr_agents.policies import Generation

        outputs = self.policy.generate(prompts, max_new_tokens, temperature, top_p, n, stop)
        for i, out in enumerate(outputs):
            if i % 2:
                ids = self.tokenizer.encode(self.ANSWER, add_special_tokens=False)
                with torch.no_grad():
                    logprobs = self.policy.logprobs(
                        [prompts[out.prompt_index]], [ids], temperature, top_p
                    )
                outputs[i] = Generation(self.ANSWER, ids, logprobs.logprobs[0, : len(ids)].tolist(),
                                        out.prompt_index, "stop")
        return outputs

    def logprobs(self, *args: Any, **kwargs: Any) -> Any:
        return self.policy.logprobs(*args, **kwargs)

    def sync_weights(self) -> None:
        self.policy.sync_weights()


def test_samples_per_prompt_gives_grpo_real_groups_and_samples_jsonl_shows_them(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azr_agents.policies import load_policy
    from azr_agents.training.session import SelfPlaySession
    from azr_agents.training.trainer import Trainer

    monkeypatch.setattr(estimators.registry, "_REGISTRY", dict(estimators.registry._REGISTRY))
    seen: list[tuple[estimators.AdvantageInput, torch.Tensor]] = []
    grpo = estimators.get("grpo")

    @estimators.register("test-spy-grpo")
    def spy(batch: estimators.AdvantageInput) -> torch.Tensor:
        advantages = grpo(batch)
        seen.append((batch, advantages))
        return advantages

    config = tiny_config(tiny_model_dir, "estimator.name=test-spy-grpo",
                         "selfplay.samples_per_prompt=2", "selfplay.env.rewards.mode=reference")
    policy = HalfWellFormed(load_policy(str(tiny_model_dir), seed=0))
    with SelfPlaySession(config.selfplay) as session:
        trainer = Trainer(config, policy, session, tmp_path)  # type: ignore[arg-type]
        trainer.step()
        assert session.step == 1
    batch, advantages = seen[-1]
    groups = Counter(batch.groups)
    assert set(groups) == {
        (t, r) for t in ("deduction", "abduction", "induction") for r in ("propose", "solve")
    }
    assert set(groups.values()) == {2 * 2}  # B prompts x G samples in every (task type, role) group
    per_prompt = Counter(batch.prompt_ids)
    assert len(per_prompt) == 6 * 2 and set(per_prompt.values()) == {2}
    assert advantages.abs().sum() > 0, (
        "well-formed and malformed samples of one prompt: grpo learns"
    )
    unique = estimators.AdvantageInput(rewards=batch.rewards, mask=batch.mask, groups=batch.groups,
                                       prompt_ids=[str(i) for i in range(len(batch.groups))])
    assert grpo(unique).abs().sum() == 0, (
        "with G = 1 (unique prompt ids) grpo has nothing to compare"
    )

    records = read_samples(tmp_path / "samples.jsonl")
    assert len(records) == 24 and {r["step"] for r in records} == {1}
    by_prompt: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_prompt.setdefault(record["prompt_id"], []).append(record)
    for members in by_prompt.values():
        assert len(members) == 2 and members[0]["prompt"] == members[1]["prompt"]
        assert {m["completion"] == HalfWellFormed.ANSWER for m in members} == {True, False}
    solved = [
        r for r in records if r["role"] == "solve" and r["completion"] == HalfWellFormed.ANSWER
    ]
    assert solved and all(
        r["answer"] is not None and r["reason"] in ("correct", "wrong_value") for r in solved
    )
    assert all(
        isinstance(r["advantage"], float) and isinstance(r["reward"], float) for r in records
    )


@pytest.mark.parametrize("mini_batches", [1, 3])
def test_each_mini_batch_of_a_step_is_one_optimizer_step(
    tiny_model_dir: Path, tmp_path: Path, mini_batches: int
) -> None:
    """`optim.mini_batches_per_step` optimizer steps per epoch (the reference takes one per task
    type's worth of samples): AdamW counts its steps, and every trainable sample is trained on."""
    from azr_agents.policies import load_policy
    from azr_agents.training.session import SelfPlaySession
    from azr_agents.training.trainer import Trainer

    config = tiny_config(tiny_model_dir, f"optim.mini_batches_per_step={mini_batches}",
                         "run.probe_every=0")
    policy = load_policy(str(tiny_model_dir))
    with SelfPlaySession(config.selfplay) as session:
        trainer = Trainer(config, policy, session, tmp_path)
        metrics = trainer.step()
    assert metrics["update"]["trained_samples"] == 12
    steps = {int(state["step"]) for state in trainer.optimizer.state.values()}
    assert steps == {mini_batches}


def test_skipping_zero_advantage_samples_leaves_the_update_unchanged(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Samples whose advantage is 0 on every token (entropy bonus off) are not run, and the
    weights after the step are those of running them: only float summation order differs."""
    from azr_agents.policies import load_policy
    from azr_agents.training.session import SelfPlaySession
    from azr_agents.training.trainer import Trainer

    after: dict[bool, tuple[dict[str, Any], dict[str, torch.Tensor]]] = {}
    for skip in (False, True):
        config = tiny_config(
            tiny_model_dir, "estimator.name=grpo", "selfplay.samples_per_prompt=2",
            "selfplay.env.rewards.mode=reference", "run.probe_every=0", "optim.lr=1e-3",
            "optim.entropy_coef=0.0", f"optim.skip_zero_advantage={str(skip).lower()}",
        )
        policy = HalfWellFormed(load_policy(str(tiny_model_dir), seed=0))
        with SelfPlaySession(config.selfplay) as session:
            metrics = Trainer(config, policy, session, tmp_path / str(skip)).step()  # type: ignore[arg-type]
        weights = {k: v.detach().clone() for k, v in policy.model.state_dict().items()}
        after[skip] = (metrics["update"], weights)
    (full, full_weights), (skipped, skipped_weights) = after[False], after[True]
    assert full["skipped_samples"] == 0
    assert 0 < skipped["skipped_samples"] < skipped["trained_samples"] == 24
    assert skipped["grad_norm"] == pytest.approx(full["grad_norm"], rel=1e-4)
    base = {k: v for k, v in load_policy(str(tiny_model_dir)).model.state_dict().items()}
    moved = max(float((full_weights[k] - base[k]).abs().max()) for k in base)
    gap = max(float((full_weights[k] - skipped_weights[k]).abs().max()) for k in base)
    assert moved > 1e-4, "the step trained"
    assert gap < 1e-3 * moved, (gap, moved)
