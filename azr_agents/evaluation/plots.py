"""A bar chart of pass@1 per (model, suite): one glance when several are evaluated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def bar_chart(results: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Write grouped bars (suites on the x axis, one bar per model) of pass@1 in %."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suites = list(dict.fromkeys(str(r["suite"]) for r in results))
    models = list(dict.fromkeys(str(r["model"]) for r in results))
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(suites) * max(1, len(models)) ** 0.5), 3.6))
    for m, model in enumerate(models):
        xs, ys = [], []
        for s, suite in enumerate(suites):
            row = next((r for r in results if r["model"] == model and r["suite"] == suite), None)
            if row is not None and row.get("pass_at_1") is not None:
                xs.append(s + (m - (len(models) - 1) / 2) * width)
                ys.append(float(row["pass_at_1"]))
        bars = ax.bar(xs, ys, width=width, label=model)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(range(len(suites)), suites)
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 100)
    if len(models) > 1:
        ax.legend(fontsize=8)
    ax.set_title("azr eval")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
