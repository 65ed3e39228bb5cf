"""The layout of a run folder (what `azr train` writes) that other rooms read: where the
checkpoints are and which one is the newest complete one.

Torch-free and apart from `training/`, so that loading a model from a run folder
(`policy.model=<run folder>`, `azr eval --model <run folder>`) does not depend on the trainer.
Writing checkpoints is `azr_agents.training.checkpoint`'s.
"""

from __future__ import annotations

from pathlib import Path

STATE = "state.pt"
"""The file a checkpoint folder is complete with (step and random states)."""


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoint under `root` (a run's `checkpoints/`), or None."""
    pointer = root / "latest"
    if pointer.exists():
        candidate = root / pointer.read_text().strip()
        if (candidate / STATE).exists():
            return candidate
    complete = [p for p in sorted(root.glob("step-*")) if (p / STATE).exists()]
    return complete[-1] if complete else None
