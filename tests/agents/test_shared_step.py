"""N processes play one self-play step together: each poses B / N prompts per group, and all end
the step with one identical set of buffers holding every process's new tasks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from azr_agents.training.rollout import Sample
from azr_agents.training.shared_step import BufferSync, GlobalBatch, global_batch
from azr_env.buffers import BufferConfig, TaskBuffers, load_jsonl
from azr_env.task import Task

WORKER = Path(__file__).with_name("two_rank_worker.py")
OVERRIDES = [
    "selfplay.batch_size=4",
    "selfplay.env.rewards.num_samples=2",
    "selfplay.seed_factor=0",
    "selfplay.env.buffers.num_references=1",
    "generation.max_new_tokens=8",
    "optim.micro_batch_size=8",
    "run.log_samples=0",
]


def _launch(processes: int, model: Path, out: Path, *extra: str) -> list[dict]:
    out.mkdir()
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(processes),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        *(["--multi_gpu"] if processes > 1 else []),
        str(WORKER),
        str(model),
        str(out),
        *OVERRIDES,
        *extra,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return [json.loads((out / f"rank-{r}.json").read_text()) for r in range(processes)]


@pytest.mark.slow
def test_two_processes_split_the_batch_and_share_identical_buffers(tiny_model_dir: Path,
                                                                     tmp_path: Path) -> None:
    ranks = _launch(2, tiny_model_dir, tmp_path / "two")
    for report in ranks:
        assert report["world"] == 2
        # B = 4 per group: each process poses 2 (x G = 1) prompts of every group
        assert all(counts == [2] for counts in report["posed"].values()), report["posed"]
        assert len(report["posed"]) == 6
        assert report["trained_samples"] == 24  # the whole step's 4 x 6 samples
    texts = [(tmp_path / "two" / f"buffers-{r}.jsonl").read_text() for r in range(2)]
    assert texts[0] == texts[1], "every process ends the step with the same buffers"
    tasks = load_jsonl(tmp_path / "two" / "buffers-0.jsonl")
    programs = [t.program for t in tasks if t.step == 1]
    # each process proposed 2 valid deduction and 2 valid abduction tasks; all 8 are everywhere
    assert sum("a * 2 +" in p for p in programs) == 4 and sum("a * 3 +" in p for p in programs) == 4
    assert ranks[0]["weights"] == ranks[1]["weights"], "averaged gradients keep the weights equal"
    assert ranks[0]["groups"] == ranks[1]["groups"], (
        "metrics are the whole batch's on every process"
    )


@pytest.mark.slow
def test_one_process_poses_the_whole_batch(tiny_model_dir: Path, tmp_path: Path) -> None:
    report, = _launch(1, tiny_model_dir, tmp_path / "one")
    assert all(counts == [4] for counts in report["posed"].values())
    assert report["trained_samples"] == 24


class FakeGroup:
    """Stands in for `DataParallel` in one process: `gather` returns the other ranks' objects
    (given) with ours at our rank."""

    def __init__(self, rank: int, others: dict[int, object]) -> None:
        self.rank, self.world, self.others = rank, len(others) + 1, others

    def gather(self, obj: object) -> list[object]:
        return [obj if r == self.rank else self.others[r] for r in range(self.world)]


def _sample(reward: float, tokens: int, task_type: str = "deduction") -> Sample:
    return Sample(prompt="p", text="t", token_ids=[1] * tokens, logprobs=[0.0] * tokens,
                  reward=reward, task_type=task_type, role="solve", prompt_id="1:deduction:solve:0")


def test_the_estimator_sees_the_whole_batch_and_each_process_keeps_its_rows() -> None:
    theirs = [_sample(1.0, 3), _sample(-1.0, 2)]
    mine = [_sample(0.5, 4), _sample(-0.5, 1), _sample(1.0, 2)]
    rows = [(s.reward, s.group, s.prompt_id, len(s.token_ids)) for s in theirs]
    whole = global_batch(mine, FakeGroup(1, {0: rows}), parts=2)
    assert whole.offset == 2 and whole.rewards.tolist() == [1.0, -1.0, 0.5, -0.5, 1.0]
    assert whole.mask.sum(dim=1).tolist() == [3, 2, 4, 1, 2]
    assert len(set(whole.prompt_ids)) == 2  # the same prompt id on two processes is two prompts
    # mini-batch j is every process's j-th slice: [3] + [4, 1] and [2] + [2]
    assert whole.tokens_per_part == [8.0, 4.0]
    alone = global_batch(theirs + mine, None, parts=2)
    assert alone.offset == 0 and alone.rewards.tolist() == whole.rewards.tolist()


def _task(i: int) -> Task:
    return Task("deduction", f"def f(a):\n    return {i}", ("1",), (str(i),), step=1)


def _synced_programs(config: BufferConfig, new_by_rank: dict[int, list[Task]]) -> list[list[str]]:
    """Each rank's buffers (holding task 0) after it adds its new tasks and syncs with the
    others' (as gathered by a fake process group): the last character of each program."""
    programs = []
    for rank, new in new_by_rank.items():
        buffers = TaskBuffers(["deduction"], config)
        buffers["deduction"].add(_task(0))
        others = {r: {"deduction": n} for r, n in new_by_rank.items() if r != rank}
        sync = BufferSync(buffers, FakeGroup(rank, others))
        sync.mark()
        buffers["deduction"].extend(new)
        sync.sync()
        programs.append([t.program[-1] for t in buffers["deduction"].tasks])
    return programs


def test_buffer_sync_rebuilds_every_copy_in_rank_order() -> None:
    new_by_rank = {0: [_task(1), _task(2)], 1: [_task(3), _task(1)]}
    programs = _synced_programs(BufferConfig(cap=4), new_by_rank)
    # zero task, 0, rank 0's 1 and 2, rank 1's 3 (its 1 is a duplicate): cap 4 drops the oldest
    assert programs[0] == programs[1] == ["0", "1", "2", "3"]


def test_buffer_sync_keeps_repeats_when_buffers_keep_them() -> None:
    """With `dedup="seeding"` outside seeding a new task may repeat an old one: it is still
    one of the phase's new tasks (counted, not told apart by its key)."""
    config = BufferConfig(cap=8, dedup="seeding", zero=False)
    programs = _synced_programs(config, {0: [_task(0), _task(2)], 1: [_task(2)]})
    assert programs[0] == programs[1] == ["0", "0", "2", "2"]


@pytest.mark.slow
def test_fsdp_sharded_step_equals_the_unsharded_one(tiny_model_dir: Path, tmp_path: Path) -> None:
    """`optim.sharding=fsdp` (FSDP2 over gloo on two CPU processes) against hand-averaged full
    replicas, on the same scripted samples and a learning rate large enough to move weights."""
    from safetensors.torch import load_file

    from azr_agents.run_folder import latest_checkpoint

    extra = ["optim.lr=1e-3", "optim.weight_decay=0.01", "optim.micro_batch_size=3",
             "estimator.name=reinforce"]  # raw rewards: every sample has a gradient
    plain = _launch(2, tiny_model_dir, tmp_path / "plain", *extra)
    sharded = _launch(2, tiny_model_dir, tmp_path / "fsdp", *extra, "optim.sharding=fsdp")
    for a, b in zip(plain, sharded, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5, abs=1e-7)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-5)
        assert b["sampler_gap"] == 0.0, "the sampling copy holds the gathered weights"
        assert a["resume_gap"] == b["resume_gap"] == 0.0, (
            "a checkpoint restores the weights exactly"
        )
    assert sharded[0]["weights"] == sharded[1]["weights"]
    w_plain = torch.load(tmp_path / "plain" / "weights.pt")
    w_fsdp = torch.load(tmp_path / "fsdp" / "weights.pt")
    initial = load_file(str(tiny_model_dir / "model.safetensors"))
    moved = max(float((w_plain[k] - initial[k]).abs().max()) for k in w_plain)
    gap = max(float((w_plain[k] - w_fsdp[k]).abs().max()) for k in w_plain)
    # AdamW's first step moves a weight by about lr (1e-3) whatever its gradient's size, so an
    # element whose gradient is near 0 turns floating-point noise between the two reduction
    # orders into a visible difference: measured 1.0e-6 (0.1% of a step); allowed 1% of a step
    assert moved > 5e-4 and gap <= 1e-5, (moved, gap)
    for folder, weights in (("plain", w_plain), ("fsdp", w_fsdp)):
        checkpoint = latest_checkpoint(tmp_path / folder / "run" / "checkpoints")
        assert checkpoint is not None
        saved = load_file(str(checkpoint / "model.safetensors"))
        assert set(saved) == set(weights) and all(torch.equal(saved[k], weights[k]) for k in saved)
        optim = torch.load(checkpoint / "optimizer.pt", weights_only=False)
        assert optim["state"], "the optimizer state is saved whole"


def test_busiest_counts_each_process_s_active_rows_per_mini_batch() -> None:
    """Under FSDP every process runs as many micro-batches as the one with the most samples left
    to run after zero-advantage ones are skipped (`optim.skip_zero_advantage`)."""
    batch = GlobalBatch(rewards=torch.zeros(5), mask=torch.ones(5, 1), groups=[("d", "s")] * 5,
                        prompt_ids=[str(i) for i in range(5)], offset=0,
                        tokens_per_part=[0.0, 0.0], sizes=[3, 2])
    # rank 0 splits rows 0-2 into [0, 1] and [2]; rank 1 rows 3-4 into [3] and [4]
    assert batch.busiest([True, False, True, False, True], 2) == [1, 1]
    assert batch.busiest([True, True, False, True, False], 2) == [2, 0]
    assert batch.busiest([False] * 5, 2) == [0, 0]
    assert batch.busiest([True] * 5, 1) == [3]


@pytest.mark.slow
def test_fsdp_step_with_every_sample_skipped(tiny_model_dir: Path, tmp_path: Path) -> None:
    """trr++ on the scripted samples: every group's rewards are alike, so every advantage is 0
    and no process runs a forward (`optim.skip_zero_advantage`); the sharded step must still
    finish in lockstep, with AdamW stepping on zero gradients on every process."""
    ranks = _launch(2, tiny_model_dir, tmp_path / "fsdp", "optim.sharding=fsdp",
                    "estimator.name=trr++", "optim.weight_decay=0.01", "optim.lr=1e-3")
    assert [r["loss"] for r in ranks] == [None, None], "no token was computed"
    assert all(r["grad_norm"] == 0.0 and r["resume_gap"] == 0.0 for r in ranks)
    assert ranks[0]["weights"] == ranks[1]["weights"]
