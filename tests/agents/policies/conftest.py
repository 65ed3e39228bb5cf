"""A tiny random Llama and a byte-level tokenizer with a ChatML template (`azr_agents.testing`).

Nothing is downloaded: the tokenizer maps every byte to one token (so stop strings are easy to
reason about) and the model has two layers of width 32, so a test generates in milliseconds.
"""

from __future__ import annotations

from typing import Any

import pytest

from azr_agents.policies.config import PolicyConfig
from azr_agents.policies.transformers_backend import TransformersPolicy
from azr_agents.testing import build_tiny_model, build_tiny_tokenizer


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    return build_tiny_tokenizer()


@pytest.fixture
def make_policy(tokenizer: Any) -> Any:
    def make(**options: Any) -> TransformersPolicy:
        options.setdefault("seed", 0)
        return TransformersPolicy(build_tiny_model(len(tokenizer), max_positions=1024), tokenizer,
                                  PolicyConfig(**options))

    return make


@pytest.fixture
def policy(make_policy: Any) -> TransformersPolicy:
    policy: TransformersPolicy = make_policy()
    return policy
