"""Advantage estimators: `AdvantageInput` -> per-token advantages `Tensor[B, T]`.

`get("trr++")` is the Absolute Zero default; `available()` lists the rest. Add one with
`@register("name")` on a function `(inp: AdvantageInput, **options) -> Tensor`. See
docs/estimators.md.
"""

from __future__ import annotations

# The built-in estimator modules are imported for their @register side effect.
from azr_agents.estimators import (  # noqa: F401
    grpo,
    reinforce,
    reinforce_plus_plus,
    rloo,
    trr_plus_plus,
)
from azr_agents.estimators.base import AdvantageInput, Estimator
from azr_agents.estimators.contract import check_advantages
from azr_agents.estimators.registry import available, get, register

__all__ = ["AdvantageInput", "Estimator", "available", "check_advantages", "get", "register"]
