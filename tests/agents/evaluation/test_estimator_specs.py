"""The estimator lists of `azr bench estimators` and `benchmarks/learning.py`: options, values,
per-estimator step sizes, and one clear error for each kind of mistake."""

from __future__ import annotations

import pytest

from azr_agents.benchmarking.specs import EstimatorSpec, parse_lrs, parse_specs, parse_value
from azr_agents.config import load_config
from azr_agents.errors import AZRConfigError


@pytest.mark.parametrize(("text", "value"), [("true", True), ("False", False), ("3", 3),
                                             ("-2", -2), ("1e-5", 1e-5), ("0.5", 0.5),
                                             ("token", "token")])
def test_option_values_are_typed(text: str, value: object) -> None:
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_a_list_with_options() -> None:
    specs = parse_specs(["grpo:scale=false:eps=1e-5,trr++", "trr++:per=token"])
    assert specs == [EstimatorSpec("grpo", {"scale": False, "eps": 1e-5}), EstimatorSpec("trr++"),
                     EstimatorSpec("trr++", {"per": "token"})]
    assert [s.label for s in specs] == ["grpo:scale=false:eps=1e-05", "trr++", "trr++:per=token"]
    assert specs[0].slug == "grpo-scale=false-eps=1e-05"
    # the overrides are the ones `azr train` reads back into the same options
    config = load_config("cpu-learn", specs[0].overrides())
    assert config.estimator.name == "grpo"
    assert dict(config.estimator.options) == {"scale": False, "eps": 1e-5}


@pytest.mark.parametrize(("spec", "message"), [
    ("grpo:scal=false", "estimator 'grpo' has no option scal; its options: scale, eps"),
    ("grpo:scale", "option 'scale' is not KEY=VALUE"),
    ("grpo:=1", "is not KEY=VALUE"),
    (":scale=false", "no estimator name"),
    ("nope:x=1", "unknown estimator 'nope'"),
    ("grpo:scale=true:scale=false", "option 'scale' given twice"),
    ("trr++:per=diagonal", "per='diagonal' is not supported"),
    ("trr++,rloo,trr++", "listed twice: trr++"),
])
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(AZRConfigError, match=message.replace("+", r"\+").replace("(", r"\(")):
        parse_specs([spec])


def test_step_sizes_global_per_name_and_per_label() -> None:
    specs = parse_specs(["trr++,grpo,grpo:scale=false"])
    assert parse_lrs([], specs, 0.1) == {"trr++": 0.1, "grpo": 0.1, "grpo:scale=false": 0.1}
    assert parse_lrs(["0.2", "grpo=0.05"], specs, 0.1) == {
        "trr++": 0.2, "grpo": 0.05, "grpo:scale=false": 0.05}  # a name covers its variants
    assert parse_lrs(["grpo:scale=false=0.3"], specs, 0.1)["grpo:scale=false"] == 0.3
    assert parse_lrs(["grpo=0.05", "0.2"], specs, 0.1)["grpo"] == 0.2  # later values win
    with pytest.raises(AZRConfigError, match="no estimator 'rloo' in the list"):
        parse_lrs(["rloo=0.1"], specs, 0.1)
    with pytest.raises(AZRConfigError, match="'fast' is not a number"):
        parse_lrs(["grpo=fast"], specs, 0.1)
