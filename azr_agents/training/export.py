"""`azr export RUN [--step N] OUT`: a run's checkpoint as a standard Hugging Face model folder.

A checkpoint already is a `save_pretrained` folder plus what resuming needs (optimizer, RNG
states, buffers); the export keeps only the model: config.json, generation_config.json, the
safetensors weights and the tokenizer files, which transformers (`from_pretrained`), vLLM and
harnesses such as EvalPlus or lm-evaluation-harness load as they are. A checkpoint written
before checkpoints carried their config is rebuilt from the run's base model (`policy.model`
in its config.yaml) and the checkpoint's weights.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from azr_agents.errors import AZRConfigError
from azr_agents.run_folder import latest_checkpoint
from azr_agents.training.checkpoint import RESUME_FILES, load_weights, save_pretrained


def find_checkpoint(run_dir: Path, step: int | None = None) -> Path:
    """The run's checkpoint at `step` (default: the latest), or an error listing those there."""
    root = run_dir / "checkpoints"
    if not root.is_dir():
        raise AZRConfigError(
            f"{run_dir} has no checkpoints/ folder: is it a run folder of azr train?"
        )
    if step is None:
        found = latest_checkpoint(root)
        if found is None:
            raise AZRConfigError(f"{root} holds no complete checkpoint yet")
        return found
    path = root / f"step-{step:06d}"
    if not path.is_dir():
        there = sorted(int(p.name.split("-")[1]) for p in root.glob("step-*"))
        raise AZRConfigError(f"no checkpoint of step {step} in {root}; there are steps {there}")
    return path


def _is_resume_file(name: str) -> bool:
    return any(name == f or (name.startswith(f.split(".")[0] + "-rank")) for f in RESUME_FILES)


def export_checkpoint(run_dir: Path, out: Path, step: int | None = None) -> Path:
    """Write the model of checkpoint `step` (default: the latest) of `run_dir` to `out`."""
    checkpoint = find_checkpoint(run_dir, step)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AZRConfigError(f"{out} exists and is not an empty folder; pick a new one")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if (checkpoint / "config.json").exists():
            for path in sorted(checkpoint.iterdir()):
                if path.is_file() and not _is_resume_file(path.name):
                    shutil.copyfile(path, tmp / path.name)  # new files: the umask, not 0600
        else:
            _rebuild(run_dir, checkpoint, tmp)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _rebuild(run_dir: Path, checkpoint: Path, folder: Path) -> None:
    """An old checkpoint (weights only): the run's base model with these weights, re-saved."""
    import torch

    from azr_agents.config import from_yaml
    from azr_agents.policies.loading import load_model_and_tokenizer, resolve_model_source

    saved = run_dir / "config.yaml"
    if not saved.exists():
        raise AZRConfigError(
            f"{checkpoint} has no config.json and {run_dir} no config.yaml to rebuild it from"
        )
    config = from_yaml(saved.read_text())
    model, tokenizer = load_model_and_tokenizer(resolve_model_source(config.policy.model),
                                                torch.float32, config.policy.trust_remote_code)
    load_weights(model, checkpoint)
    save_pretrained(folder, model, tokenizer)
