"""Shared fixtures: one sandboxed executor per session, started once (starting costs ~0.1 s)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from azr_env.executor import Executor


@pytest.fixture(scope="session")
def executor() -> Iterator[Executor]:
    """A default (isolation="job") executor with short limits, shared by the whole session."""
    with Executor(workers=2, timeout_s=2.0, memory_mb=256) as ex:
        yield ex
