"""Fixtures for the hostile corpus.

Nothing hostile runs before the sandbox has shown, with its own probes, that a plain fork (and
exec, sockets, file writes, signals to the parent, IPC) is refused inside it by its filter. A fork
bomb that escaped a broken sandbox would take the whole machine down; if the probes fail, the check
test fails loudly and every hostile case is skipped.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from azr_env.executor import PROBE_LAYERS, PROBES, Executor


@pytest.fixture(scope="session")
def sandbox_report() -> dict[str, object]:
    with Executor(workers=1, timeout_s=2.0) as ex:
        return ex.sandbox_report()


@pytest.fixture(scope="session")
def hostile_executor(sandbox_report: dict[str, object]) -> Iterator[Executor]:
    probes = sandbox_report["probes"]
    assert isinstance(probes, dict)
    # The filter must hold; a namespace layer the kernel does not allow is skipped (and reported)
    if any(
        probes.get(name) != "forbidden"
        and (PROBE_LAYERS[name] == "seccomp" or probes.get(name) != "skipped")
        for name in PROBES
    ):
        pytest.skip(f"SANDBOX BROKEN, hostile cases not run: {sandbox_report}")
    with Executor(workers=2, timeout_s=1.0, memory_mb=256) as ex:
        yield ex


@pytest.fixture()
def canary_dir() -> Iterator[Path]:
    """A world-writable folder holding a world-writable file. The sandbox's private root does
    not even contain it; the cases still require `forbidden`, the filter's EPERM, which comes
    before any path lookup, so they check the filter."""
    path = Path(tempfile.mkdtemp(prefix="azr-canary-", dir="/var/tmp"))
    path.chmod(0o777)
    canary = path / "canary.txt"
    canary.write_text("intact")
    canary.chmod(0o666)
    os.sync()
    yield path
    shutil.rmtree(path, ignore_errors=True)
