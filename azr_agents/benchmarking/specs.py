"""Estimator lists for the benchmarks: `"trr++,grpo:scale=false"` and per-estimator step sizes.

One syntax for `azr bench estimators --estimators ...` (the bandit) and
`benchmarks/learning.py --estimators ...` (the real loop): estimators are separated by commas,
each is `NAME` or `NAME:KEY=VALUE[:KEY=VALUE...]`. Values are read as bool (`true`/`false`),
int, float, else str, the way a YAML override would read them. Every spec is checked here with
`estimators.get`, so an unknown name, an unknown option or a bad value fails before any run
starts, with a message naming the estimator and its options.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from azr_agents.errors import AZRConfigError


@dataclass(frozen=True)
class EstimatorSpec:
    """A registered estimator name and the options it is built with."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How the spec is written back: the table column and results key (`grpo:scale=false`)."""
        return ":".join([self.name, *(f"{k}={format_value(v)}" for k, v in self.options.items())])

    @property
    def slug(self) -> str:
        """The label as a file-name part (`grpo-scale=false`), for run folders."""
        return self.label.replace(":", "-").replace("/", "_")

    def overrides(self) -> list[str]:
        """The `azr train` config overrides that select this estimator."""
        return [f"estimator.name={self.name}",
                *(f"estimator.options.{k}={format_value(v)}" for k, v in self.options.items())]


def parse_value(text: str) -> bool | int | float | str:
    """`true`/`false` (any case) -> bool, then int, then float, else the text itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def format_value(value: Any) -> str:
    """The inverse of `parse_value` for the values it returns (bools lower-case, as YAML)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def parse_spec(text: str) -> EstimatorSpec:
    """One `NAME[:KEY=VALUE...]`, checked against the registry (raises `AZRConfigError`)."""
    from azr_agents.estimators import available, get

    name, *pairs = [part.strip() for part in text.strip().split(":")]
    if not name:
        raise AZRConfigError(f"estimator spec {text!r}: no estimator name before ':'")
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise AZRConfigError(f"estimator spec {text!r}: option {pair!r} is not KEY=VALUE "
                                 "(write e.g. grpo:scale=false)")
        if key in options:
            raise AZRConfigError(f"estimator spec {text!r}: option {key!r} given twice")
        options[key] = parse_value(value)
    if name not in available():
        raise AZRConfigError(f"unknown estimator {name!r} in {text!r}; available: "
                             f"{', '.join(available())}")
    try:
        get(name, **options)
    except AZRConfigError as exc:
        raise AZRConfigError(f"estimator spec {text!r}: {exc}") from exc
    except (TypeError, ValueError) as exc:  # an estimator that checks its options itself
        raise AZRConfigError(f"estimator spec {text!r}: bad option value ({exc})") from exc
    return EstimatorSpec(name, options)


def parse_specs(values: Iterable[str]) -> list[EstimatorSpec]:
    """Every spec of every comma list in `values` (repeated flags add up), in order.

    Two specs with the same label would share run names and table columns, so they are refused.
    """
    specs = [parse_spec(part) for value in values for part in value.split(",") if part.strip()]
    labels = [s.label for s in specs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise AZRConfigError(f"estimator(s) listed twice: {', '.join(repeated)}")
    return specs


def parse_lrs(values: Sequence[str], specs: Sequence[EstimatorSpec],
              default: float) -> dict[str, float]:
    """Step size per spec label from `--lr` values: `0.1` sets every estimator's, `grpo=0.05`
    sets those named `grpo` (all their option variants), `grpo:scale=false=0.05` one label.
    Later values win, so `--lr 0.2 --lr grpo=0.05` gives grpo 0.05 and the others 0.2."""
    lrs = {spec.label: default for spec in specs}
    for value in values:
        target, sep, number = value.rpartition("=")
        try:
            lr = float(number)
        except ValueError:
            raise AZRConfigError(f"--lr {value!r}: {number!r} is not a number "
                                 "(write --lr 0.1 or --lr NAME=0.1)") from None
        if not sep:
            lrs = dict.fromkeys(lrs, lr)
            continue
        chosen = [s.label for s in specs if target.strip() in (s.name, s.label)]
        if not chosen:
            raise AZRConfigError(f"--lr {value!r}: no estimator {target!r} in the list "
                                 f"({', '.join(s.label for s in specs)})")
        lrs.update(dict.fromkeys(chosen, lr))
    return lrs
