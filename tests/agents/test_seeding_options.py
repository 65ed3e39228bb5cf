"""The reference's seeding as options of `selfplay.env.buffers`: de-duplication only while
seeding (`dedup="seeding"`), one triplet set for deduction and abduction
(`seed_triplets="shared"`)."""

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


class _Triplets:
    """Every prompt completed with a new valid triplet proposal (an induction prompt so gets an
    invalid one); records how many prompts each round asked for."""

    def __init__(self) -> None:
        self.rounds: list[int] = []
        self.n = 0

    def __call__(self, prompts: list[str]) -> list[str]:
        self.rounds.append(len(prompts))
        out = []
        for _ in prompts:
            self.n += 1
            out.append(f"</think> <answer>\n```python\ndef f(x):\n    return x * {self.n}\n```\n"
                       "```input\n2\n```\n</answer>")
        return out


def _three_types(seed_triplets: str) -> SelfPlayConfig:
    config = _config(seed_triplets=seed_triplets)
    config.task_types = ["deduction", "abduction", "induction"]
    return config


def test_shared_seeding_gives_deduction_and_abduction_one_triplet_set_then_seeds_induction(
) -> None:
    complete = _Triplets()
    with SelfPlaySession(_three_types("shared"), seed=0) as session:
        buffers = session.buffers
        assert buffers is not None
        session.seed_round(complete)
        assert complete.rounds == [4]  # B = 2 prompts each for deduction and abduction only
        ded, abd = buffers["deduction"].tasks, buffers["abduction"].tasks
        assert len(ded) == 5  # the zero triplet and both types' 4 new triplets, in one order
        assert [(t.program, t.inputs, t.outputs) for t in ded] == [
            (t.program, t.inputs, t.outputs) for t in abd]
        assert {t.task_type for t in abd} == {"abduction"}
        assert len(buffers["induction"]) == 1
        session.seed_round(complete)  # the triplet set is full (4): induction's turn
        assert complete.rounds == [4, 2]
        assert len(buffers["deduction"]) == len(buffers["abduction"]) == 5


def test_per_type_seeding_seeds_every_type_from_its_own_proposals() -> None:
    complete = _Triplets()
    with SelfPlaySession(_three_types("per_type"), seed=0) as session:
        buffers = session.buffers
        assert buffers is not None
        session.seed_round(complete)
        assert complete.rounds == [6]
        ded, abd = buffers["deduction"].tasks, buffers["abduction"].tasks
        assert len(ded) == len(abd) == 3
        assert {t.program for t in ded[1:]}.isdisjoint({t.program for t in abd[1:]})
