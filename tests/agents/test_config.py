"""Run configuration: presets, overrides, and one clear error for every bad value."""

from __future__ import annotations

import pytest

from azr_agents.config import AZRConfig, from_yaml, load_config, to_yaml
from azr_agents.errors import AZRConfigError


def test_presets_load_and_differ_where_they_should() -> None:
    smoke, paper = load_config("cpu-smoke"), load_config("paper-7b")
    assert smoke.policy.model is None and paper.policy.backend == "vllm"
    assert paper.selfplay.batch_size == 64 and paper.selfplay.env.buffers.num_references == 6
    assert paper.selfplay.env.rewards.num_samples == 8 and paper.optim.lr == 1e-6
    assert smoke.selfplay.batch_size < paper.selfplay.batch_size
    # the reference's optimizer steps per self-play step (veRL ppo_mini_batch_size 128 of 6 x 64)
    assert paper.optim.mini_batches_per_step == 3 and smoke.optim.mini_batches_per_step == 1
    # where the paper and the reference code differ, paper-7b follows the code its results came from
    assert paper.selfplay.env.rewards.mode == "reference"
    assert paper.estimator.options == {"per": "token"}
    assert paper.optim.weight_decay == 0.01


@pytest.mark.parametrize(
    ("preset", "model"),
    [("paper-7b", "Qwen/Qwen2.5-Coder-7B"), ("paper-7b-base", "Qwen/Qwen2.5-7B")],
)
def test_the_7b_presets_name_the_hub_ids_the_paper_trained(preset: str, model: str) -> None:
    """The exact Hugging Face hub ids (AZR-Coder-7B and AZR-Base-7B); a misspelt id only fails
    after a run has started, when the download is attempted. Config level: nothing is downloaded."""
    assert load_config(preset).policy.model == model


def test_the_base_7b_preset_differs_from_the_coder_one_only_in_the_model() -> None:
    coder, base = load_config("paper-7b"), load_config("paper-7b-base")
    base.policy.model, base.preset = coder.policy.model, coder.preset
    assert base == coder


def test_the_default_preset_is_the_one_a_small_model_can_learn_from() -> None:
    """`azr train` with no arguments: the completion format on a policy that continues text, with
    answers ending at a blank line (the format's contract), and the paper's estimator."""
    config = load_config()
    assert config.preset == "cpu-learn" and config.selfplay.env.format == "completion"
    assert config.policy.chat_template is False and config.policy.stop == ["\n\n"]
    assert config.estimator.name == "trr++" and config.optim.lr > 0
    assert load_config("cpu-learn", ["optim.lr=0"]).optim.lr == 0  # the frozen control


def test_dotted_overrides_reach_nested_fields() -> None:
    config = load_config("cpu-smoke",
                         ["optim.lr=3e-5", "selfplay.batch_size=2", "estimator.name=grpo"])
    assert (config.optim.lr, config.selfplay.batch_size, config.estimator.name) == (3e-5, 2, "grpo")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["optim.nope=1"], "optim.nope"),
        (["optim.lr=abc"], "optim.lr"),
        (["optim.lr=-1"], "optim.lr"),
        (["selfplay.env.rewards.mode=both"], "mode"),
        (["selfplay.task_types=[deduction,prediction]"], "task_types"),
        (["generation.temperature=0"], "temperature"),
        (["optim.mini_batches_per_step=0"], "mini_batches_per_step"),
        (["selfplay.env.nope=1"], "selfplay.env.nope"),
        (["selfplay.env.determinism=sometimes"], "determinism"),
        (["selfplay.env.buffers.num_references=-1"], "num_references"),
        (["selfplay.env.rewards.num_samples=0"], "num_samples"),
        (["selfplay.env.induction_inputs=1"], "induction_inputs"),
        (["selfplay.references=2"], "selfplay.references"),
        (["policy.backend=tensorflow"], "backend"),
        (["estimator.name=nope"], "unknown estimator"),
        (["estimator.name=trr++", "estimator.options={per: tokens}"], "per"),
    ],
)
def test_bad_values_raise_one_config_error_naming_the_key(overrides: list[str], match: str) -> None:
    with pytest.raises(AZRConfigError, match=match):
        load_config("cpu-smoke", overrides)


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(AZRConfigError, match="cpu-smoke"):
        load_config("no-such-preset")


def test_yaml_round_trip_keeps_every_value() -> None:
    config = load_config("cpu-smoke", ["optim.lr=4e-5", "run.seed=7"])
    again = from_yaml(to_yaml(config))
    assert again == config
    assert isinstance(again, AZRConfig)


def test_every_preset_resolves_the_env_config_on_record() -> None:
    """data/preset_env_configs.json holds each preset's resolved env config. It was written
    before the env options moved from renamed `selfplay.*` fields into `selfplay.env`, so the
    move changed no run; since then only on purpose (the 7B presets took the reference's rules:
    `r1-reference`, `one_function`, `induction_extra_inputs=keep_last`, `buffers.keep=oldest`,
    `gold_imports`, `executor.timeout_per=input`, `buffers.dedup=seeding`,
    `buffers.seed_triplets=shared`, `long_outputs=unsolvable` with `executor.max_output_chars=400`).
    A preset edit that changes the env shows up here."""
    import dataclasses
    import json
    from pathlib import Path

    from azr_agents.config import PRESETS_DIR

    before = json.loads((Path(__file__).parent / "data" / "preset_env_configs.json").read_text())
    presets = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
    assert presets == sorted(before)
    for preset in presets:
        assert dataclasses.asdict(load_config(preset).selfplay.env) == before[preset], preset
