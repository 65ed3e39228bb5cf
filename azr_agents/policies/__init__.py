"""Generation + log-prob backends for the reference agent.

`load_policy()` with no arguments gives the embedded SmolLM2-135M-Instruct on the transformers
backend (CPU or GPU); `load_policy(model, backend="vllm")` serves generation from vLLM on GPUs;
`register_backend(name, factory)` adds your own (then `policy.backend=name` under `azr train`).
See docs/policies.md.
"""

from __future__ import annotations

import os
from typing import Any

from azr_agents.policies.backends import (
    BackendFactory,
    available_backends,
    build_policy,
    register_backend,
)
from azr_agents.policies.base import Generation, LogprobBatch, Policy
from azr_agents.policies.config import PolicyConfig

__all__ = ["BackendFactory", "Generation", "LogprobBatch", "Policy", "PolicyConfig",
           "available_backends", "build_policy", "load_policy", "register_backend"]


def load_policy(
    model: str | os.PathLike[str] | None = None, backend: str = "transformers", **options: Any
) -> Policy:
    """Load a policy; `options` are `PolicyConfig` fields (e.g. `generation_dtype="bfloat16"`).

    Raises `AZRConfigError` for an unknown backend or option, a missing model path, a hub id
    that cannot be fetched, or vLLM without a GPU.
    """
    return build_policy(PolicyConfig.from_options(model, backend, options))
