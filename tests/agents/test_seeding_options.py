"""The reference's seeding as options of `selfplay.env.buffers`: de-duplication only while
seeding (`dedup="seeding"`)."""

from __future__ import annotations

from azr_agents.config import SelfPlayConfig
from azr_agents.training.session import SelfPlaySession
from azr_env.buffers import BufferConfig
from azr_env.config import EnvConfig
from azr_env.executor import ExecutorConfig
from azr_env.rewards import RewardConfig


def _config(**buffers: object) -> SelfPlayConfig:
    return SelfPlayConfig(
        batch_size=2, seed_factor=2, task_types=["deduction"],
        env=EnvConfig(buffers=BufferConfig(num_references=1, **buffers),  # type: ignore[arg-type]
                      rewards=RewardConfig(num_samples=2),
                      executor=ExecutorConfig(workers=1, timeout_s=5.0)),
    )


SAME = ("</think> <answer>\n```python\ndef f(x):\n    return x + 1\n```\n"
        "```input\n1\n```\n</answer>")


def _repeat(prompts: list[str]) -> list[str]:
    return [SAME for _ in prompts]


def test_repeats_are_refused_while_seeding_and_kept_after_with_dedup_seeding() -> None:
    for dedup, kept_later in (("always", 0), ("seeding", 2)):
        with SelfPlaySession(_config(dedup=dedup), seed=0) as session:
            session.solver = lambda prompts: ["no answer"] * len(prompts)
            buffer = session.buffers["deduction"]  # type: ignore[index]
            session.seed_round(_repeat)
            assert len(buffer) == 2  # the zero task and one copy of the repeated proposal
            assert not session.buffers.seeding  # type: ignore[union-attr]
            session.step = 1
            session.propose_prompts("deduction")
            scored = session.score("deduction", "propose", [SAME, SAME])
            assert all(info["valid"] for _, info in scored)
            assert len(buffer) == 2 + kept_later, dedup
