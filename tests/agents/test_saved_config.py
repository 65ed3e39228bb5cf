"""A config.yaml written before the env config was nested still resumes, with the same env."""

from __future__ import annotations

import pytest

from azr_agents.config import AZRConfig, from_yaml, load_config, to_yaml
from azr_agents.errors import AZRConfigError
from azr_agents.saved_config import RENAMED_ENV_KEYS, upgrade_saved_config

OLD_LAYOUT = """
selfplay:
  batch_size: 4
  references: 2
  learnability_samples: 3
  reward_mode: reference
  buffer_cap: 77
  induction_inputs: 4
  format: completion
  timeout_s: 5.0
  executor_workers: 1
  env:
    determinism: separate_processes
    buffers:
      keep: oldest
optim:
  lr: 2.0e-5
"""


def test_every_renamed_key_lands_where_the_old_run_sent_it() -> None:
    config = from_yaml(OLD_LAYOUT)
    env = config.selfplay.env
    assert env.buffers.num_references == 2
    assert env.rewards.num_samples == 3
    assert env.rewards.mode == "reference"
    assert env.buffers.cap == 77
    assert env.induction_inputs == 4
    assert env.format == "completion"
    assert env.executor.timeout_s == 5.0
    assert env.executor.workers == 1
    # the old free-form pass-through keeps its options beside the moved ones
    assert env.determinism == "separate_processes"
    assert env.buffers.keep == "oldest"
    assert config.selfplay.batch_size == 4 and config.optim.lr == 2e-5


def test_the_mapping_covers_every_old_key_exactly_once() -> None:
    moved = upgrade_saved_config({"selfplay": {k: i for i, k in enumerate(RENAMED_ENV_KEYS)}})
    assert set(moved["selfplay"]) == {"env"}
    paths = list(RENAMED_ENV_KEYS.values())
    assert len(set(paths)) == len(paths)


@pytest.mark.parametrize("preset", ["cpu-learn", "cpu-smoke", "paper-7b"])
def test_a_current_config_round_trips_unchanged(preset: str) -> None:
    config = load_config(preset, [])
    assert isinstance(config, AZRConfig)
    assert from_yaml(to_yaml(config)) == config


def test_a_saved_config_that_is_not_a_mapping_is_a_config_error() -> None:
    with pytest.raises(AZRConfigError, match="mapping"):
        from_yaml("- just\n- a list\n")
    with pytest.raises(AZRConfigError, match=r"selfplay\.env"):
        from_yaml("selfplay:\n  references: 2\n  env: 3\n")
