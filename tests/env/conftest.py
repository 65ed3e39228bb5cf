"""Shared helpers for env tests: completions in the R1 format, a scripted solver, env factories.

Every env here shares the session's executor (`tests/conftest.py`), so no test starts its own
sandbox pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import gymnasium as gym
import pytest

import azr_env  # noqa: F401  (registers the ids)
from azr_env.env import AZREnv
from azr_env.executor import Executor

MakeEnv = Callable[..., AZREnv]

@pytest.fixture
def make_env(executor: Executor) -> Iterator[MakeEnv]:
    """Build `AZREnv`s on the shared executor; closed at the end of the test."""
    made: list[AZREnv] = []

    def factory(*args: Any, **kwargs: Any) -> AZREnv:
        kwargs.setdefault("executor", executor)
        env = AZREnv(*args, **kwargs)
        made.append(env)
        return env

    yield factory
    for env in made:
        env.close()


@pytest.fixture
def make_gym(executor: Executor) -> Iterator[Callable[..., gym.Env[Any, Any]]]:
    """`gymnasium.make` on the shared executor."""
    made: list[gym.Env[Any, Any]] = []

    def factory(env_id: str, **kwargs: Any) -> gym.Env[Any, Any]:
        kwargs.setdefault("executor", executor)
        env = gym.make(env_id, **kwargs)
        made.append(env)
        return env

    yield factory
    for env in made:
        env.close()
