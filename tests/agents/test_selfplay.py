"""The session's global step: solve tasks come from this run's latest proposals, across seeding
(its own envs) and a resume (new envs), not from whichever env counted highest."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import SimpleNamespace

from gymnasium.vector import VectorEnv

from azr_agents.config import SelfPlayConfig
from azr_agents.training.rollout import Sample
from azr_agents.training.samples import sample_record
from azr_agents.training.session import SelfPlaySession, _unbatch, load_buffers
from azr_env.buffers import BufferConfig
from azr_env.config import EnvConfig
from azr_env.executor import ExecutorConfig
from azr_env.rewards import RewardConfig

CONFIG = SelfPlayConfig(
    batch_size=2, seed_factor=50, task_types=["deduction"],
    env=EnvConfig(buffers=BufferConfig(num_references=1), rewards=RewardConfig(num_samples=2),
                  executor=ExecutorConfig(workers=1, timeout_s=5.0)),
)
_numbers = itertools.count(100)


def proposal() -> str:
    """A valid R1 deduction proposal whose program is new each time (`return x + <n>`)."""
    return (f"</think> <answer>\n```python\ndef f(x):\n    return x + {next(_numbers)}\n```\n"
            "```input\n1\n```\n</answer>")


class Proposer:
    """Stands in for the trainer during seeding: every completion a new valid proposal."""

    def complete(self, prompts: list[str]) -> list[str]:
        return [proposal() for _ in prompts]


def train_step(session: SelfPlaySession, step: int) -> tuple[list[str], list[str]]:
    """What `Trainer.step` does with the session: set the step, propose, then pose solve tasks.
    Returns the programs proposed and the solve prompts posed."""
    session.step = step
    session.propose_prompts("deduction")
    completions = [proposal() for _ in range(CONFIG.batch_size)]
    session.score("deduction", "propose", completions)
    programs = [c.split("```python\n")[1].split("\n```")[0] for c in completions]
    return programs, session.solve_prompts("deduction")


def test_recent_tasks_follow_the_global_step_across_seeding_and_resume(tmp_path: Path) -> None:
    with SelfPlaySession(CONFIG, seed=0) as session:
        session.solver = lambda prompts: ["no answer"] * len(prompts)
        for _ in range(3):
            session.seed_round(Proposer().complete)
        buffer = session.buffers["deduction"]  # type: ignore[index]
        assert {t.step for t in buffer.tasks} == {-1, 0}  # zero task, then all of seeding at 0
        programs, solve = train_step(session, 1)
        assert [t.step for t in buffer.tasks][-2:] == [1, 1]
        assert all(any(p in prompt for p in programs) for prompt in solve), "step 1's tasks first"
        session.save_buffers(tmp_path / "buffers.jsonl")
        state = session.state_dict()

    # A resumed run: new envs (their own counters start again at 0), the saved buffers and state.
    with SelfPlaySession(
        CONFIG, seed=0, buffers=load_buffers(tmp_path / "buffers.jsonl", CONFIG)
    ) as resumed:
        resumed.solver = lambda prompts: ["no answer"] * len(prompts)
        resumed.load_state_dict(state)
        assert resumed.step == 1
        programs, solve = train_step(resumed, 2)
        assert [t.step for t in resumed.buffers["deduction"].tasks][-2:] == [2, 2]  # type: ignore[index]
        assert all(any(p in prompt for p in programs) for prompt in solve), "step 2's tasks first"


def test_every_env_option_reaches_the_session_s_envs_and_executor() -> None:
    """`selfplay.env` is the env's own config: every option (the reference's keep-first buffers,
    a stricter determinism check, the output cap, the executor) reaches the envs from
    `azr train`."""
    from azr_agents.config import load_config

    config = load_config("cpu-smoke", [
        "selfplay.batch_size=1", "selfplay.task_types=[deduction]",
        "selfplay.env.executor.workers=1",
        "selfplay.env.determinism=separate_processes", "selfplay.env.buffers.keep=oldest",
        "selfplay.env.executor.max_output_chars=400",
    ])
    with SelfPlaySession(config.selfplay) as session:
        for env in session.envs.values():
            env_config = env.unwrapped.config
            assert (
                env_config.determinism == "separate_processes"
                and env_config.buffers.keep == "oldest"
            )
            assert env_config.buffers.num_references == config.selfplay.env.buffers.num_references
        assert session.executor.config.max_output_chars == 400
        assert session.buffers is not None and session.buffers.config.keep == "oldest"
        assert session.executor.config.timeout_s == config.selfplay.env.executor.timeout_s == 5.0
        assert session.executor.config.workers == 1


def test_an_invalid_proposal_s_nan_solve_rate_is_written_as_null() -> None:
    """Gymnasium batches a valid proposal's solve rate and an invalid one's None into one float
    array (the None becomes NaN); the session reads it back as None, and samples.jsonl stays
    strict JSON."""
    batched: dict = {}
    batcher = SimpleNamespace(num_envs=2)
    for i, info in enumerate([{"solve_rate": 0.25}, {"solve_rate": None}]):
        batched = VectorEnv._add_info(batcher, batched, info, i)  # type: ignore[arg-type]
    assert _unbatch(batched, 0) == {"solve_rate": 0.25}
    info = _unbatch(batched, 1)
    assert info == {"solve_rate": None}
    proposal = Sample(prompt="p", text="x", token_ids=[1], logprobs=[0.0], reward=-1.0,
                      task_type="deduction", role="propose", prompt_id="1:deduction:propose:0",
                      info=info)
    record = sample_record(1, proposal)
    assert record["solve_rate"] is None
    json.dumps(record, allow_nan=False)  # strict JSON
