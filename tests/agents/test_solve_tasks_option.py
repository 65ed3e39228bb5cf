"""`selfplay.solve_tasks`: a step's solve tasks come from the buffers after its proposals
(`this_step`) or before them (`previous_step`, the reference's order)."""

from __future__ import annotations

from pathlib import Path

import pytest
from two_rank_worker import ScriptedPolicy

from azr_agents.config import load_config


@pytest.mark.parametrize("solve_tasks", ["this_step", "previous_step"])
def test_solve_tasks_come_from_this_or_the_previous_step(tiny_model_dir: Path, tmp_path: Path,
                                                          solve_tasks: str) -> None:
    from azr_agents.policies import load_policy
    from azr_agents.training.session import SelfPlaySession
    from azr_agents.training.trainer import Trainer

    config = load_config("cpu-smoke", [
        f"policy.model={tiny_model_dir}", "selfplay.batch_size=2", "selfplay.seed_factor=0",
        "selfplay.env.rewards.num_samples=1", "selfplay.task_types=[deduction]",
        "generation.max_new_tokens=8", "run.log_samples=0", f"selfplay.solve_tasks={solve_tasks}",
    ])
    policy = ScriptedPolicy(load_policy(str(tiny_model_dir)), rank=0)  # valid `a * 2 + k` programs
    solved: list[list[str]] = []
    with SelfPlaySession(config.selfplay) as session:
        trainer = Trainer(config, policy, session, tmp_path)  # type: ignore[arg-type]
        original = session.solve_prompts

        def recorded(task_type: str) -> list[str]:
            prompts = original(task_type)
            solved.append(prompts)
            return prompts

        session.solve_prompts = recorded  # type: ignore[method-assign]
        for _ in range(2):
            trainer.step()
        assert session.buffers is not None
        by_step = {t.step: t.program for t in session.buffers["deduction"].tasks}
    new_at_1 = ["a * 2 +" in p for p in solved[0]]
    if solve_tasks == "this_step":
        assert all(new_at_1), "step 1 solves the tasks step 1 proposed"
    else:
        assert not any(new_at_1), "step 1 solves what the buffers held before it (the zero task)"
        assert all("a * 2 +" in p for p in solved[1]), "step 2 solves step 1's tasks"
    assert 1 in by_step and 2 in by_step
