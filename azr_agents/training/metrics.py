"""Run metrics: one JSON line per step (flushed to disk), TensorBoard events, and PNG plots.

`metrics.jsonl` is the source of truth; the plots and TensorBoard are views of it. A resumed run
truncates lines past its checkpoint, so the file always describes one consistent history.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

GROUP_KEYS = ("reward", "format_ok", "valid", "solve_rate", "learnability", "accuracy")


class MetricsLogger:
    """Append-only metrics file plus an optional TensorBoard writer."""

    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        self.path = run_dir / "metrics.jsonl"
        self.run_dir = run_dir
        self._writer: Any = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
            except ImportError:
                self._writer = None

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        record = {"step": step, **metrics}
        with self.path.open("a") as fh:
            fh.write(json.dumps(record, default=_jsonable) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if self._writer is not None:
            for key, value in _flatten(metrics).items():
                self._writer.add_scalar(key, value, step)
            self._writer.flush()

    def log_text(self, tag: str, markdown: str, step: int) -> None:
        """A markdown text (e.g. a table of samples) in TensorBoard's text tab."""
        if self._writer is not None:
            self._writer.add_text(tag, markdown, step)
            self._writer.flush()

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after `step` (they belong to work a crash threw away); TensorBoard
        hides its events after `step` too."""
        if self._writer is not None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer.close()
            self._writer = SummaryWriter(log_dir=str(self.run_dir / "tensorboard"),
                                         purge_step=step + 1)
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        self.path.write_text("".join(line + "\n" for line in kept))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _flatten(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "/"))
        elif (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ):
            flat[name] = float(value)
    return flat


def _first(values: Mapping[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        if isinstance(values.get(key), (int, float)):
            return float(values[key])
    return None


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_run(run_dir: Path) -> list[Path]:
    """Redraw the run's curves as PNGs (rewards, validity, solve rate per group; probe)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [r for r in read_metrics(run_dir / "metrics.jsonl") if "groups" in r]
    if not records:
        return []
    plots_dir = run_dir / "plots"
    plots_dir.mkdir(exist_ok=True)
    written = []
    panels = [(("reward",), "mean reward", (-1.05, 1.05)),
              (("format_ok",), "well-formed answers", (-0.02, 1.02)),
              (("valid",), "valid proposals", (-0.02, 1.02)),
              (("accuracy", "solve_rate"), "solver accuracy / proposals' solve rate",
               (-0.02, 1.02))]
    fig, axes = plt.subplots(3, 2, figsize=(11, 10), sharex=True)
    groups = sorted({g for r in records for g in r["groups"]})
    # One colour per group in every panel (a panel that skips a group must not shift the rest).
    tab10 = plt.get_cmap("tab10")
    colors = {group: tab10(i % tab10.N) for i, group in enumerate(groups)}
    for ax, (keys, title, ylim) in zip(axes.flat, panels, strict=False):
        for group in groups:
            points = [(r["step"], value) for r in records
                      if (value := _first(r["groups"].get(group, {}), keys)) is not None]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", markersize=3, label=group,
                        color=colors.get(group))
        ax.set_title(title)
        ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
    for ax, key, title in ((axes[2][0], "entropy", "policy entropy (nats/token)"),
                           (axes[2][1], "advantage_std", "advantage std (0: no learning signal)")):
        points = [(r["step"], r["update"][key]) for r in records if key in r.get("update", {})]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", markersize=3, color="black")
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=6, fontsize=8)
    fig.suptitle(f"self-play: {run_dir.name}")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    path = plots_dir / "selfplay.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)

    probes = [r for r in read_metrics(run_dir / "metrics.jsonl") if "probe" in r]
    if probes:
        fig, ax = plt.subplots(figsize=(7, 4))
        for key, label in (("format_ok", "well-formed"), ("accuracy", "correct")):
            ax.plot([r["step"] for r in probes], [r["probe"][key] for r in probes], marker="o",
                    label=label)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
        ax.set_title("fixed probe set: CRUXEval deduction/abduction, greedy decoding")
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = plots_dir / "probe.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
