"""A fourth task type is one class and one registry line: a toy "type prediction" task.

The solver sees a program and an input and names the type of what `f` returns. It reuses the
deduction proposer; only its solve prompt and its answer check are new.
"""

from __future__ import annotations

from collections.abc import Sequence

from env_helpers import MakeEnv, answer, block, triplet

from azr_env.executor import Executor
from azr_env.executor.checks import Verdict
from azr_env.formats import PlainFormat, PromptFields, R1Format
from azr_env.task import Task
from azr_env.tasks import register_task_type
from azr_env.tasks.deduction import TripletTaskType


class TypePrediction(TripletTaskType):
    name = "type_prediction"
    answer_kind = "output"

    def seed_tasks(self) -> list[Task]:
        return [Task(self.name, "def f(a):\n    return a", ("1",), ("1",), step=-1)]

    def solve_fields(self, task: Task) -> PromptFields:
        return PromptFields(program=task.program, input=task.input)

    def check_answers(
        self, executor: Executor, tasks: Sequence[Task], answers: Sequence[str]
    ) -> list[Verdict]:
        # The value tree's tag is the type name of the output (`int`, `str`, ...).
        return [Verdict(a.strip() == t.encoded[0][0]) for t, a in zip(tasks, answers, strict=True)]


def _prompt(fields: PromptFields) -> str:
    return f"What type does f return?\n{fields.program}\nf({fields.input})\nAnswer in ```output."


register_task_type(TypePrediction())
for fmt in (R1Format, PlainFormat):
    fmt.add_template("type_prediction", "solve", _prompt)
    fmt.add_template("type_prediction", "propose", R1Format.templates[("deduction", "propose")])


def test_a_registered_toy_type_plays_both_roles(make_env: MakeEnv) -> None:
    env = make_env("type_prediction")
    env.reset(seed=0)
    _, reward, *_, info = env.step(triplet("def f(a):\n    return str(a)", "5"))
    assert reward == 0.0 and info["added_to_buffer"], info
    obs, _ = env.reset()
    assert obs == {"prompt": obs["prompt"], "role": "solve", "task_type": "type_prediction"}
    assert "What type" in obs["prompt"]
    _, reward, *_ = env.step(answer(block("output", "str")))
    assert reward == 1.0


def test_a_type_registered_after_import_gets_its_own_gym_ids(executor: Executor) -> None:
    import gymnasium

    from azr_env import env_id

    assert env_id("type_prediction", "solve") == "azr_env/TypePrediction-Solve-v0"
    for role in ("propose", "solve"):
        env = gymnasium.make_vec(env_id("type_prediction", role), num_envs=2,
                                 vectorization_mode="vector_entry_point", executor=executor)
        obs, _ = env.reset(seed=0)
        assert list(obs["task_type"]) == ["type_prediction"] * 2
        assert list(obs["role"]) == [role] * 2
        env.close()
