"""Data-parallel self-play across processes started by `accelerate launch`.

Each process plays B / N of the step's batch (its own envs and seeds) and computes its loss on
its share; the buffers and the advantage baselines are the whole step's (`shared_step`), and
gradients are averaged across processes before every optimizer step, so the weights stay equal
everywhere. Gradients are averaged by hand rather than through DDP because generation runs a
different number of forward passes in each process, and DDP synchronises on every forward.

    accelerate launch --multi_gpu --num_processes 2 -m azr_agents.cli train   # also on CPUs

With one process everything here is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


class DataParallel:
    """This process's place in the group, and the two collectives the trainer needs."""

    def __init__(self) -> None:
        from accelerate import PartialState

        self.state = PartialState(cpu=not torch.cuda.is_available())
        self.rank: int = self.state.process_index
        self.world: int = self.state.num_processes
        self.is_main: bool = self.state.is_main_process
        self.device = self.state.device

    def average_gradients(self, parameters: Iterable[torch.nn.Parameter]) -> None:
        """Average `.grad` over processes (a parameter without a gradient counts as zeros)."""
        if self.world == 1:
            return
        params = list(parameters)
        flat = torch.cat(
            [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
        )
        torch.distributed.all_reduce(flat)
        flat /= self.world
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = flat[offset : offset + n].view_as(p).clone()
            offset += n

    def gather(self, obj: Any) -> list[Any]:
        """`obj` of every process, in rank order (on every process)."""
        if self.world == 1:
            return [obj]
        from accelerate.utils import gather_object

        return list(gather_object([obj]))
