"""Estimators by name: `register(name)` adds one, `get(name, **options)` builds one.

A registered estimator is either a function `f(inp: AdvantageInput, **options) -> Tensor`
(`get` binds the options) or a class whose `__init__` takes the options and whose instances
are called on an `AdvantageInput` (`get` returns a new instance, so its state is its own).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from azr_agents.errors import AZRConfigError
from azr_agents.estimators.base import AdvantageInput, Estimator
from azr_agents.estimators.contract import check_advantages, probe_batch

F = TypeVar("F", bound=Callable[..., Any])

_REGISTRY: dict[str, Callable[..., Any]] = {}


def register(name: str) -> Callable[[F], F]:
    """Decorator: make an estimator function or class available as `get(name)`."""

    def decorate(obj: F) -> F:
        if _REGISTRY.get(name, obj) is not obj:
            raise AZRConfigError(f"an estimator named {name!r} is already registered")
        _REGISTRY[name] = obj
        return obj

    return decorate


def available() -> list[str]:
    """The registered estimator names, sorted."""
    return sorted(_REGISTRY)


def get(name: str, **options: Any) -> Estimator:
    """The estimator `name` with `options` bound, ready to call on an `AdvantageInput`.

    Raises `AZRConfigError` for an unknown name or option, a bad option value, or an estimator
    that breaks the contract (`contract.check_advantages`): it is run here on an empty batch and
    on a small probe batch (a class on an instance of its own, so the one returned keeps a fresh
    state), so that a mistake fails now rather than at the first training step.
    """
    if name not in _REGISTRY:
        raise AZRConfigError(f"unknown estimator {name!r}; available: {', '.join(available())}")
    obj = _REGISTRY[name]
    is_class = inspect.isclass(obj)
    params = list(inspect.signature(obj).parameters.values())[0 if is_class else 1 :]
    known = [p.name for p in params if p.kind is not p.VAR_KEYWORD]
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise AZRConfigError(
                f"estimator {name!r} has no option {', '.join(unknown)}; its options: "
                f"{', '.join(known) or '(none)'}"
            )
    estimator: Estimator = obj(**options) if is_class else functools.partial(obj, **options)
    probed: Estimator = obj(**options) if is_class else estimator
    for inp in (AdvantageInput.empty(), probe_batch()):
        check_advantages(name, probed(inp), inp)
    return estimator
