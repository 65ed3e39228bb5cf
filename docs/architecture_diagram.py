"""Draw docs/img/architecture.png: the layers of azr (azr_env below, azr_agents above).

Run `python docs/architecture_diagram.py` after a room is added or moved; the picture is
committed. Each box is a module or subpackage; an arrow points from a layer to the one it uses.
Nothing is imported from azr: the picture is the layout the import-graph test
(tests/test_import_graph.py) keeps true, drawn by hand.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

OUT = Path(__file__).parent / "img" / "architecture.png"

ENV, AGENTS = "#dbe9f6", "#fde6cf"
"""Fill colours of the two packages."""

# (row, label, boxes): rows from the bottom; each box is (title, contents).
ROWS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("azr_env", "the sandbox", [
        ("executor/", "Executor pool, seccomp sandbox,\njobs, answer checks, value trees"),
    ]),
    ("azr_env", "records and registries", [
        ("task.py  buffers.py", "Task records, TaskBuffers\n(zero tasks from each type)"),
        ("formats/", "prompt formats: r1,\nplain, completion\n[register_format]"),
        ("tasks/", "task types: deduction,\nabduction, induction\n[register_task_type]"),
        ("sources/", "task sources: generator,\nbenchmarks, jsonl\n[register_source]"),
    ]),
    ("azr_env", "scoring", [
        ("core.py  scoring.py  rewards.py", "pose a step, validate proposals, estimate\n"
                                            "learnability, score answers; episode.outcome"),
        ("config.py", "EnvConfig: every env option,\nits defaults"),
    ]),
    ("azr_env", "public API", [
        ("env.py  vector.py  registration.py", "Gymnasium envs: SelfPlay-v0 and\n"
                                                "<Type>-{Propose,Solve}-v0 per type"),
        ("dataset.py  integrations/", "create_dataset, Scorer, score;\nTRL reward functions"),
    ]),
    ("azr_agents", "building blocks", [
        ("policies/", "Policy protocol: transformers,\nvllm  [register_backend]"),
        ("estimators/", "advantage estimators, contract\ncheck  [register]"),
        ("config.py  run_folder.py", "AZRConfig (selfplay.env = azr_env's\n"
                                     "EnvConfig); a run's checkpoints"),
    ]),
    ("azr_agents", "the loop", [
        ("training/", "session (envs) -> trainer (rollout,\nloss) -> checkpoint, metrics, run"),
        ("evaluation/  benchmarking/", "pass@k suites; estimator bandit,\nheld-out probe"),
    ]),
    ("azr_agents", "commands", [
        ("cli/", "azr train | export | exec | eval | bench\n--import plugin.py"),
    ]),
]


def _y(row: int) -> float:
    """Bottom of a row; a wider gap between the two packages holds the boundary's note."""
    return row * 1.3 + 0.15 + (0.45 if ROWS[row][0] == "azr_agents" else 0.0)


def draw() -> None:
    left, right = 2.0, 12.2
    fig, ax = plt.subplots(figsize=(12.5, 10))
    ax.set_xlim(0, right + 0.1)
    ax.set_ylim(-0.2, _y(len(ROWS) - 1) + 1.3)
    ax.axis("off")
    for i, (package, layer, boxes) in enumerate(ROWS):
        y = _y(i)
        ax.text(0.05, y + 0.5, f"{package}\n{layer}", fontsize=9, va="center", color="#444444")
        width = (right - left - 0.25 * (len(boxes) - 1)) / len(boxes)
        for j, (title, body) in enumerate(boxes):
            x = left + j * (width + 0.25)
            fill = ENV if package == "azr_env" else AGENTS
            ax.add_patch(FancyBboxPatch((x, y), width, 1.0, facecolor=fill, edgecolor="#555555",
                                        boxstyle="round,pad=0.02,rounding_size=0.08"))
            ax.text(x + width / 2, y + 0.78, title, ha="center", va="center", fontsize=9.5,
                    family="monospace", weight="bold")
            ax.text(x + width / 2, y + 0.34, body, ha="center", va="center", fontsize=8.3)
        if i:
            middle = (left + right) / 2
            ax.annotate("", xy=(middle, _y(i - 1) + 1.04), xytext=(middle, y - 0.04),
                        arrowprops={"arrowstyle": "-|>", "color": "#333333"})
    first_agents = next(i for i, row in enumerate(ROWS) if row[0] == "azr_agents")
    boundary = _y(first_agents) - 0.3
    ax.plot([0.05, right], [boundary, boundary], color="#aa3333", linestyle="--", linewidth=1)
    ax.text(right, boundary + 0.05, "above: azr_agents, which imports only azr_env.PUBLIC_MODULES",
            ha="right", va="bottom", fontsize=8.5, color="#aa3333")
    ax.text(right, boundary - 0.05, "below: azr_env, which never imports azr_agents (no torch)",
            ha="right", va="top", fontsize=8.5, color="#aa3333")
    ax.set_title("azr: layers (each uses the ones below it; no import cycle)", fontsize=12)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    draw()
