"""Checkpoints written atomically, so that a crash at any moment leaves the last one whole.

A checkpoint is a folder `checkpoints/step-000012/` holding the model as `save_pretrained`
writes it (config.json, generation_config.json, model.safetensors) with its tokenizer files, so
the folder is itself a model anything loads (`azr eval --model`, `policy.model=`, transformers,
vLLM), plus what resuming needs: the optimizer state, the task buffers (JSONL), the RNG states
and the step. It is written under a temporary name and renamed into place;
`checkpoints/latest` names the newest one and is itself replaced atomically.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from azr_agents.errors import AZRConfigError
from azr_agents.run_folder import STATE

WEIGHTS, OPTIMIZER, BUFFERS = "model.safetensors", "optimizer.pt", "buffers.jsonl"
WEIGHTS_INDEX = "model.safetensors.index.json"
"""A model larger than `save_pretrained`'s shard size is saved in shards listed here."""
RESUME_FILES = (OPTIMIZER, STATE, BUFFERS)
"""What a checkpoint holds beyond the model (left out by `azr export`)."""


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


def save_pretrained(folder: Path, model: Any, tokenizer: Any | None,
                    weights: dict[str, Any] | None = None) -> None:
    """The model (and tokenizer) as `from_pretrained` expects them, without progress bars;
    `weights`: a whole state dict to write instead of the model's own (a sharded model's)."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        if weights is None:
            model.save_pretrained(folder)
        else:
            model.save_pretrained(folder, state_dict=weights)
        if tokenizer is not None:
            tokenizer.save_pretrained(folder)
    finally:
        if bars:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def save_checkpoint(
    root: Path,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    save_extra: Callable[[Path], None],
    keep: int = 2,
    tokenizer: Any | None = None,
    weights: dict[str, Any] | None = None,
    optimizer_state: dict[str, Any] | None = None,
) -> Path:
    """Write checkpoint `step` under `root` and prune all but the newest `keep`.

    `save_extra(folder)` writes the buffers (`BUFFERS`, and anything else the run needs) into the
    checkpoint before it is renamed into place. `weights` and `optimizer_state`: whole state
    dicts gathered from a sharded model and optimizer, written instead of theirs.
    """
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:06d}"
    tmp = root / f".tmp-step-{step:06d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_pretrained(tmp, model, tokenizer, weights)
    torch.save(
        optimizer.state_dict() if optimizer_state is None else optimizer_state, tmp / OPTIMIZER
    )
    torch.save(dict(state, step=step), tmp / STATE)
    save_extra(tmp)
    for path in tmp.iterdir():
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(root)
    write_atomic(root / "latest", final.name + "\n")
    for old in sorted(root.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def rank_file(folder: Path, name: str, rank: int) -> Path:
    """Where process `rank` of a data-parallel run keeps its copy of `name` in a checkpoint
    (the main process: `name` itself; rank 2: `state-rank2.pt` for `state.pt`)."""
    if rank == 0:
        return folder / name
    stem, dot, suffix = name.partition(".")
    return folder / f"{stem}-rank{rank}{dot}{suffix}"


def load_checkpoint(
    path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore weights and optimizer in place; return the saved state (step, RNGs, ...)."""
    missing = [name for name in (OPTIMIZER, STATE) if not (path / name).exists()]
    if not (path / WEIGHTS).exists() and not (path / WEIGHTS_INDEX).exists():
        missing.insert(0, WEIGHTS)
    if missing:
        raise AZRConfigError(f"checkpoint {path} is incomplete (missing {missing})")
    load_weights(model, path)
    optimizer.load_state_dict(torch.load(path / OPTIMIZER, weights_only=False))
    state: dict[str, Any] = torch.load(path / STATE, weights_only=False)
    return state


def read_full_states(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A checkpoint's whole weights and optimizer state, read into memory (for a sharded model,
    which takes them through `azr_agents.policies.sharding.load_full_states`)."""
    weights = read_weights(path)
    optim: dict[str, Any] = torch.load(path / OPTIMIZER, weights_only=False)
    return weights, optim


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """Every tensor of the safetensors weights in `folder`, one file or shards (by its index)."""
    index = folder / WEIGHTS_INDEX
    files = (
        sorted(set(json.loads(index.read_text())["weight_map"].values()))
        if index.exists()
        else [WEIGHTS]
    )
    weights: dict[str, torch.Tensor] = {}
    for name in files:
        weights.update(load_file(str(folder / name)))
    return weights


def read_state(path: Path) -> dict[str, Any]:
    """A checkpoint's `state.pt` (step, random states, ...)."""
    state: dict[str, Any] = torch.load(path / STATE, weights_only=False)
    return state


def load_weights(model: torch.nn.Module, folder: Path) -> None:
    """Load the safetensors weights in `folder` (one file or shards) into `model`, in place.

    Every parameter must be in the files, except one tied to a parameter that is (e.g.
    `lm_head.weight` of a model with tied embeddings, which `save_pretrained` leaves out).
    """
    weights = read_weights(folder)
    result = model.load_state_dict(weights, strict=False)
    own = model.state_dict()
    loaded = {own[k].data_ptr() for k in weights if k in own}
    untied = [k for k in result.missing_keys if own[k].data_ptr() not in loaded]
    if untied or result.unexpected_keys:
        raise AZRConfigError(
            f"the weights in {folder} do not fit this model (missing {untied[:5]}, unexpected "
            f"{list(result.unexpected_keys)[:5]}): resume with the run's policy.model"
        )


def checkpoint_step(path: Path) -> int:
    """The step a checkpoint was taken at."""
    state = torch.load(path / STATE, weights_only=False)
    return int(state["step"])
