"""Every script in examples/ runs as a user would run it (`python examples/X.py`), so none rots.

The examples use scripted or random actions (no model) and finish in seconds; `trl_grpo.py` trains
the tiny local test model for two GRPO steps (~20 s on a CPU).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

EXPECTED = {
    "random_agent.py": ["reward=", "reason=", "reasons:", "buffer sizes:"],
    "scripted_agent.py": ["solve    deduction", "'correct'", "forbidden_module", "reasons:"],
    "custom_estimator.py": ["median-baseline", "registered:", "expected reward"],
    "custom_task_type.py": ["propose type_prediction", "reason=correct", "reason=wrong_type"],
    "trl_grpo.py": ["step 1: reward=", "step 2: reward=", "trained 2 GRPO steps"],
}


def test_every_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str) -> None:
    if name == "custom_estimator.py":
        pytest.importorskip("torch", reason="custom_estimator.py needs the agents extra (torch)")
    if name == "trl_grpo.py":
        pytest.importorskip("trl", reason="trl_grpo.py needs the trl extra (in the dev extra too)")
    # TRL's import and two GRPO steps take ~20 s alone; leave room on a busy machine.
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300 if name == "trl_grpo.py" else 120)
    assert done.returncode == 0, done.stderr[-3000:]
    for text in EXPECTED[name]:
        assert text in done.stdout, f"{text!r} not in the output of {name}:\n{done.stdout}"
