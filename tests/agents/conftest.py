"""Fixtures shared by the agent tests: a tiny random model saved to disk once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from azr_agents.testing import save_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny-model"))
