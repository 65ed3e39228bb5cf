"""Checkpoints written atomically, so that a crash at any moment leaves the last one whole.

A checkpoint is a folder `checkpoints/step-000012/` holding the weights (safetensors), the
optimizer state, the task buffers (JSONL), the RNG states and the step, plus the run's config.
It is written under a temporary name and renamed into place; `checkpoints/latest` names the
newest one and is itself replaced atomically.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model

from azr_agents.errors import AZRConfigError

WEIGHTS, OPTIMIZER, STATE, BUFFERS = "model.safetensors", "optimizer.pt", "state.pt", "buffers.jsonl"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Replace a small text file so that readers see the old or the new content, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_checkpoint(
    root: Path,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    save_buffers: Callable[[Path], None],
    keep: int = 2,
) -> Path:
    """Write checkpoint `step` under `root` and prune all but the newest `keep`."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:06d}"
    tmp = root / f".tmp-step-{step:06d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model(model, str(tmp / WEIGHTS))
    torch.save(optimizer.state_dict(), tmp / OPTIMIZER)
    torch.save(dict(state, step=step), tmp / STATE)
    save_buffers(tmp / BUFFERS)
    for name in (WEIGHTS, OPTIMIZER, STATE, BUFFERS):
        with (tmp / name).open("rb") as fh:
            os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(root)
    write_atomic(root / "latest", final.name + "\n")
    for old in sorted(root.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoint, or None."""
    pointer = root / "latest"
    if pointer.exists():
        candidate = root / pointer.read_text().strip()
        if (candidate / STATE).exists():
            return candidate
    complete = [p for p in sorted(root.glob("step-*")) if (p / STATE).exists()]
    return complete[-1] if complete else None


def load_checkpoint(
    path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore weights and optimizer in place; return the saved state (step, RNGs, ...)."""
    missing = [name for name in (WEIGHTS, OPTIMIZER, STATE) if not (path / name).exists()]
    if missing:
        raise AZRConfigError(f"checkpoint {path} is incomplete (missing {missing})")
    load_model(model, str(path / WEIGHTS))
    optimizer.load_state_dict(torch.load(path / OPTIMIZER, weights_only=False))
    state: dict[str, Any] = torch.load(path / STATE, weights_only=False)
    return state


def checkpoint_step(path: Path) -> int:
    """The step a checkpoint was taken at."""
    state = torch.load(path / STATE, weights_only=False)
    return int(state["step"])
