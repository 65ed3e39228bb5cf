"""Every python snippet in docs/*.md and README.md runs as written, each on its own.

The runner is pytest-markdown-docs (a dev dependency), in its `superfences` syntax so that the
options below also render on the MkDocs site: a fence written ```` ```{.python continuation} ````
runs after the snippets before it on the same page, and ```` ```{.python notest} ```` marks a
snippet that needs a model or is an excerpt of a file CI runs elsewhere (say which in the text).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [*sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")), "README.md"]


def test_every_python_snippet_in_the_docs_runs() -> None:
    pytest.importorskip("pytest_markdown_docs", reason="pip install -e '.[dev]'")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--markdown-docs",
         "--markdown-docs-syntax=superfences", *PAGES],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1]


def test_no_page_hides_a_snippet_from_the_runner() -> None:
    """A fence the runner cannot see (`python title=...`, a typo) would go untested silently."""
    for page in PAGES:
        for line in (ROOT / page).read_text().splitlines():
            if line.startswith("```") and "python" in line:
                assert line in ("```python", "```{.python continuation}", "```{.python notest}"), \
                    f"{page}: unexpected fence {line!r}"
