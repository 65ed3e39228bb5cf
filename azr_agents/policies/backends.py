"""Policy backends by name: `register_backend(name, factory)` adds one, so that
`policy.backend=<name>` (or `load_policy(model, backend=name)`) builds a policy with it.

A factory takes the resolved `PolicyConfig` and returns an object that keeps the `Policy`
protocol (`azr_agents.policies.base`). The two built-ins import their heavy dependencies only
when they build a policy.
"""

from __future__ import annotations

from collections.abc import Callable

from azr_agents.errors import AZRConfigError
from azr_agents.policies.base import Policy
from azr_agents.policies.config import PolicyConfig

BackendFactory = Callable[[PolicyConfig], Policy]

_BACKENDS: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make `policy.backend=name` build policies with `factory(config)`; replaces a backend of
    the same name."""
    if not isinstance(name, str) or not name or not callable(factory):
        raise AZRConfigError("register_backend needs a non-empty name and a callable factory")
    _BACKENDS[name] = factory


def available_backends() -> list[str]:
    """The registered backend names, in registration order."""
    return list(_BACKENDS)


def get_backend(name: str) -> BackendFactory:
    """The factory of backend `name`; `AZRConfigError` naming the registered ones otherwise."""
    try:
        return _BACKENDS[name]
    except KeyError:
        raise AZRConfigError(
            f"unknown policy backend {name!r}; use one of {available_backends()} (or add one "
            "with azr_agents.policies.register_backend)"
        ) from None


def build_policy(config: PolicyConfig) -> Policy:
    """A policy from its config, by its backend's factory."""
    policy = get_backend(config.backend)(config)
    if not isinstance(policy, Policy):
        raise AZRConfigError(f"policy backend {config.backend!r} returned a "
                             f"{type(policy).__name__}, which lacks the Policy protocol's methods")
    return policy


def _transformers(config: PolicyConfig) -> Policy:
    from azr_agents.policies.transformers_backend import TransformersPolicy

    return TransformersPolicy.from_config(config)


def _vllm(config: PolicyConfig) -> Policy:
    from azr_agents.policies.vllm_backend import VLLMPolicy

    return VLLMPolicy.from_config(config)


register_backend("transformers", _transformers)
register_backend("vllm", _vllm)
