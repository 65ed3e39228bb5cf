"""The run plot: every group keeps one colour in every panel, so the shared legend is true."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.figure
import pytest

from azr_agents.training.metrics import plot_run


def test_each_group_has_one_colour_in_every_panel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = {"abduction/propose": {"reward": -1.0, "valid": 0.5},
              "abduction/solve": {"reward": 0.0, "accuracy": 0.25},
              "deduction/propose": {"reward": -0.5, "valid": 0.25},
              "deduction/solve": {"reward": 0.5, "accuracy": 0.5}}
    lines = [json.dumps({"step": s, "groups": groups, "update": {"entropy": 1.0}}) for s in (1, 2)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    saved: list[Any] = []
    real_savefig = matplotlib.figure.Figure.savefig

    def keep(fig: Any, *args: Any, **kwargs: Any) -> None:
        saved.append(fig)
        real_savefig(fig, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    plot_run(tmp_path)
    colours: dict[str, set[str]] = {}
    for ax in saved[0].axes:
        for line in ax.get_lines():
            if line.get_label() in groups:
                colours.setdefault(line.get_label(), set()).add(str(line.get_color()))
    # "valid proposals" draws only the propose groups: before the fix they took the solve
    # groups' colours there
    assert set(colours) == set(groups)
    assert all(len(c) == 1 for c in colours.values()), colours
    assert len({next(iter(c)) for c in colours.values()}) == len(groups)
