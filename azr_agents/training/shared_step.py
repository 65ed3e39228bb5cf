"""What N processes exchange so that together they play the step one process would play.

Under `accelerate launch --num_processes N` each process poses and generates B / N of every
group's B prompts (`SelfPlaySession(world=N)`). Two things must then be the whole batch's
rather than a process's, or N processes would play N smaller, diverging self-play games:

- the buffers: every process adds its valid proposals to its own `TaskBuffers` while scoring;
  `BufferSync` then gathers each process's new tasks and rebuilds every copy as "the buffers
  before the phase, then rank 0's new tasks, rank 1's, ..." so that all copies are identical
  (same tasks, same order, same evictions) before anything is drawn from them again;
- the advantage estimate: `global_batch` gathers each trainable sample's reward, group, prompt
  and length, so that the estimator's baselines (TRR++'s per-group mean and std) are the whole
  batch's, and so that each mini-batch's loss is normalised by the whole mini-batch's tokens.

With one process (`parallel` None or of size 1) nothing is exchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from azr_agents.training.rollout import Sample
from azr_env.buffers import TaskBuffers
from azr_env.task import Task


class BufferSync:
    """Keeps the buffers of every process identical across a phase that adds tasks.

    `mark()` before proposals are scored, `sync()` after: every process must call both.
    """

    def __init__(self, buffers: TaskBuffers, parallel: Any) -> None:
        self.buffers = buffers
        self.parallel = parallel
        self._before: dict[str, tuple[Task, ...]] = {}
        self._added: dict[str, int] = {}

    @property
    def active(self) -> bool:
        return self.parallel is not None and self.parallel.world > 1

    def mark(self) -> None:
        if self.active:
            self._before = {b.task_type: b.tasks for b in self.buffers}
            self._added = {b.task_type: b.added for b in self.buffers}

    def sync(self) -> None:
        """Rebuild every buffer from its marked state plus all processes' new tasks, by rank."""
        if not self.active:
            return
        mine = {}
        for buffer in self.buffers:
            # The newest tasks, by count (a new task may repeat an old one: buffers.dedup).
            count = min(buffer.added - self._added[buffer.task_type], len(buffer))
            mine[buffer.task_type] = list(buffer.tasks[len(buffer) - count:])
        everyone: list[dict[str, list[Task]]] = self.parallel.gather(mine)
        for buffer in self.buffers:
            buffer.restore(self._before[buffer.task_type])
            for new in everyone:
                buffer.extend(new[buffer.task_type])


@dataclass
class GlobalBatch:
    """The whole step's trainable samples, as the estimator needs them, and where ours sit."""

    rewards: torch.Tensor
    mask: torch.Tensor
    groups: list[tuple[str, str]]
    prompt_ids: list[str]
    offset: int
    """Our first row in the whole batch (processes' samples are concatenated by rank)."""
    tokens_per_part: list[float]
    """Completion tokens of each mini-batch of the whole batch (the j-th mini-batch is every
    process's j-th slice of its own samples)."""
    sizes: list[int]
    """Each process's number of samples, in rank order."""

    def busiest(self, active: Sequence[bool], parts: int) -> list[int]:
        """The most `active` samples (one flag per row of the whole batch) any process has in
        each of its `parts` mini-batches: a sharded model runs as many micro-batches everywhere.
        """
        most = [0] * parts
        start = 0
        for size in self.sizes:
            for j, part in enumerate(np.array_split(np.arange(size), parts)):
                most[j] = max(most[j], sum(bool(active[start + int(i)]) for i in part))
            start += size
        return most


def global_batch(trainable: Sequence[Sample], parallel: Any, parts: int) -> GlobalBatch:
    """Every process's trainable samples, in rank order (every process must call this)."""
    rows = [(s.reward, s.group, s.prompt_id, len(s.token_ids)) for s in trainable]
    world = parallel.world if parallel is not None else 1
    everyone = parallel.gather(rows) if world > 1 else [rows]
    rank = parallel.rank if world > 1 else 0
    flat = [(r, g, f"{k}/{p}" if world > 1 else p, n)
            for k, rank_rows in enumerate(everyone) for r, g, p, n in rank_rows]
    width = max((n for *_, n in flat), default=1)
    mask = torch.zeros(len(flat), max(width, 1), dtype=torch.float32)
    for i, (*_, n) in enumerate(flat):
        mask[i, :n] = 1.0
    tokens = [0.0] * parts
    for rank_rows in everyone:
        for j, part in enumerate(np.array_split(np.arange(len(rank_rows)), parts)):
            tokens[j] += float(sum(rank_rows[int(i)][3] for i in part))
    return GlobalBatch(
        rewards=torch.tensor([r for r, *_ in flat], dtype=torch.float32), mask=mask,
        groups=[g for _, g, _, _ in flat], prompt_ids=[p for _, _, p, _ in flat],
        offset=sum(len(r) for r in everyone[:rank]), tokens_per_part=tokens,
        sizes=[len(r) for r in everyone],
    )
