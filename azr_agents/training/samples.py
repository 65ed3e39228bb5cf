"""`samples.jsonl`: what the policy wrote each step and what it earned, one sample a line.

Curves say that something moved; samples say what. Each line is one trained completion: the step,
its prompt id (shared by the G samples of one prompt), task type and role, the prompt as the env
posed it (whole when short; else its head and its tail, where an AZR prompt states the task), the
completion, the answer the env parsed from it (a solver's answer, or a proposal's program, inputs
and message), the reward with its reason, the task, and the advantage the estimator gave it (the
mean over its tokens). At most `cap` samples per (task type, role) group per step are written, the
first ones of the batch, so the G samples of a prompt stay together. A resumed run drops the lines
after its checkpoint, as `metrics.jsonl` does.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from azr_agents.training.rollout import Sample

PROMPT_CHARS = 2000
"""Prompts up to this long are logged whole; longer ones as head + elision + tail."""
PROMPT_HEAD, PROMPT_TAIL = 300, 1200
TENSORBOARD_ROWS = 3
"""Samples per group in TensorBoard's text table each step."""
CELL_CHARS = 300


def shorten_prompt(prompt: str) -> str:
    """The prompt, or its head and tail with the number of characters left out between them."""
    if len(prompt) <= PROMPT_CHARS:
        return prompt
    left_out = len(prompt) - PROMPT_HEAD - PROMPT_TAIL
    return f"{prompt[:PROMPT_HEAD]}\n[... {left_out} characters ...]\n{prompt[-PROMPT_TAIL:]}"


def sample_record(step: int, sample: Sample) -> dict[str, Any]:
    """One line of samples.jsonl."""
    info = sample.info
    answer = info.get("answer") if sample.role == "solve" else (info.get("proposal") or None)
    return {
        "step": step, "prompt_id": sample.prompt_id, "task_type": sample.task_type,
        "role": sample.role, "prompt": shorten_prompt(sample.prompt),
        "prompt_chars": len(sample.prompt),
        "completion": sample.text, "completion_tokens": len(sample.token_ids), "answer": answer,
        "reward": sample.reward, "reason": info.get("reason"), "detail": info.get("detail"),
        "format_ok": info.get("format_ok"), "accuracy": info.get("accuracy"),
        "solve_rate": info.get("solve_rate"), "advantage": sample.advantage,
        "task": info.get("task") or None,
    }


def capped(samples: Iterable[Sample], cap: int) -> list[Sample]:
    """The first `cap` samples of each (task type, role) group, in batch order."""
    seen: dict[tuple[str, str], int] = defaultdict(int)
    kept = []
    for sample in samples:
        if seen[sample.group] < cap:
            seen[sample.group] += 1
            kept.append(sample)
    return kept


class SamplesLogger:
    """Appends each step's samples to `run_dir/samples.jsonl` (flushed to disk every step)."""

    def __init__(self, run_dir: Path, cap: int) -> None:
        self.path = run_dir / "samples.jsonl"
        self.cap = cap

    def log(self, step: int, samples: Iterable[Sample]) -> list[dict[str, Any]]:
        """Write the step's capped samples; returns the records written."""
        records = [sample_record(step, s) for s in capped(samples, self.cap)]
        with self.path.open("a") as fh:
            for record in records:
                fh.write(json.dumps(record, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return records

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after `step` (work a crash threw away), streaming: the file can be
        large."""
        if not self.path.exists():
            return
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        with self.path.open() as src, tmp.open("w") as dst:
            for line in src:
                if line.strip() and json.loads(line).get("step", 0) <= step:
                    dst.write(line if line.endswith("\n") else line + "\n")
        os.replace(tmp, self.path)


def read_samples(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def markdown_tables(records: list[dict[str, Any]], rows: int = TENSORBOARD_ROWS) -> dict[str, str]:
    """A few samples per group as a markdown table (TensorBoard's text tab), keyed by group."""
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_group[f"{record['task_type']}/{record['role']}"].append(record)
    tables = {}
    for group, members in sorted(by_group.items()):
        lines = ["| prompt id | reward | advantage | reason | answer | completion |",
                 "|---|---|---|---|---|---|"]
        for r in members[:rows]:
            advantage = "-" if r["advantage"] is None else f"{r['advantage']:+.3f}"
            cells = [r["prompt_id"], f"{r['reward']:+.2f}", advantage, str(r["reason"]),
                     json.dumps(r["answer"]) if r["answer"] is not None else "-", r["completion"]]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        tables[group] = "\n".join(lines)
    return tables


def _cell(text: str) -> str:
    text = text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + "..."
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ⏎ ")
