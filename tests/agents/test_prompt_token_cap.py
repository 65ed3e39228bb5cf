"""`generation.max_prompt_tokens`: the trainer caps prompts in the policy's own tokens (here the
tiny byte-level tokenizer: one token per byte, plus the chat template)."""

from __future__ import annotations

from pathlib import Path

import pytest

from azr_agents.config import load_config
from azr_env.task import Task

PAD = "#" + "y" * 3500


def _long_task(i: int) -> Task:
    return Task("deduction", f"def f(a):\n    {PAD}\n    return {i}\n", ("1",), (str(i),),
                encoded=[["int", hex(i)]], step=0)


@pytest.mark.parametrize("cap", [None, 4000])
def test_the_trainer_poses_only_prompts_within_the_token_cap(tiny_model_dir: Path, tmp_path: Path,
                                                              cap: int | None) -> None:
    from azr_agents.policies import load_policy
    from azr_agents.training.session import SelfPlaySession
    from azr_agents.training.trainer import Trainer

    config = load_config(
        "cpu-smoke",
        [
            f"policy.model={tiny_model_dir}",
            "selfplay.batch_size=4",
            "selfplay.env.buffers.num_references=2",
            "selfplay.task_types=[deduction]",
            f"generation.max_prompt_tokens={cap or 'null'}",
        ],
    )
    policy = load_policy(str(tiny_model_dir))
    with SelfPlaySession(config.selfplay) as session:
        assert session.buffers is not None
        for i in range(6):
            session.buffers["deduction"].add(_long_task(i))
        Trainer(config, policy, session, tmp_path)
        prompts = [*session.propose_prompts("deduction"), *session.solve_prompts("deduction")]
    lengths = [len(policy.encode(p)) for p in prompts]
    if cap is None:
        assert max(lengths) > 4000 and any(PAD in p for p in prompts)
    else:
        assert max(lengths) <= cap and not any(PAD in p for p in prompts)
        # the cap is in tokens, not characters: the chat template's tokens count too
        assert all(len(policy.encode(p)) > len(p) for p in prompts)


def test_the_7b_presets_cap_prompts_at_the_reference_limit() -> None:
    for preset in ("paper-7b", "paper-7b-base"):
        assert load_config(preset).generation.max_prompt_tokens == 5600
    with pytest.raises(Exception, match="max_prompt_tokens"):
        load_config("cpu-smoke", ["generation.max_prompt_tokens=0"])
