"""A fourth task type, "type prediction", in one module plus one registry line.

The solver sees a program and an input and names the type of the value `f` returns (`int`,
`list`, `NoneType`, a class of the program...). Proposals are deduction's (a program and one
input), so it reuses deduction's proposer side and prompt; only its solve prompt and its answer
check are new. The env does the rest: validation in the sandbox, buffers, rewards, info.

    python examples/custom_task_type.py
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym

import azr_env  # noqa: F401  (registers the azr_env/* ids)
from azr_env.executor import Executor
from azr_env.executor.checks import Verdict
from azr_env.formats import PlainFormat, PromptFields, R1Format
from azr_env.task import Task
from azr_env.tasks import register_task_type
from azr_env.tasks.deduction import TripletTaskType


def type_name(encoded: list) -> str:  # type: ignore[type-arg]
    """The type name of a value from its encoded tree (`['int', '0x1']`, `['opaque', 'program.A',
    ...]`)."""
    tag = encoded[0]
    if tag == "opaque":
        return str(encoded[1]).rsplit(".", 1)[-1]
    return "NoneType" if tag == "none" else str(tag)


class TypePrediction(TripletTaskType):
    """Name the type of `f(input)`: proposer as deduction's, solver answers in ```output."""

    name = "type_prediction"
    answer_kind = "output"

    def seed_tasks(self) -> list[Task]:
        """A fresh buffer starts from the identity on 'Hello world' (gold values are computed
        in the sandbox when first needed)."""
        return [Task(self.name, "def f(a):\n    return a", ("'Hello world'",), ("'Hello world'",),
                     step=-1)]

    def solve_fields(self, task: Task) -> PromptFields:
        return PromptFields(program=task.program, input=task.input)  # the output stays hidden

    def check_answers(
        self, executor: Executor, tasks: Sequence[Task], answers: Sequence[str]
    ) -> list[Verdict]:
        # Gold values were computed in the sandbox when the task was validated: no new job.
        verdicts = []
        for task, answer in zip(tasks, answers, strict=True):
            gold = type_name(task.encoded[0])
            ok = answer.strip().strip("'\"") == gold
            verdicts.append(
                Verdict(True) if ok else Verdict(False, "wrong_type", f"expected {gold}")
            )
        return verdicts


def solve_prompt(fields: PromptFields) -> str:
    return (
        "# Task: Predict the Type of the Output of a Python Code Snippet\n"
        f"```python\n{fields.program}\n```\n```input\n{fields.input}\n```\n"
        "Name the type of the value f returns (e.g. int, list, NoneType) in ```output``` tags."
    )


register_task_type(TypePrediction())  # the registry line
for fmt in (R1Format, PlainFormat):  # prompts: a new solve template, deduction's proposer
    fmt.add_template("type_prediction", "solve", solve_prompt)
    fmt.add_template("type_prediction", "propose", fmt.templates[("deduction", "propose")])


def completion(**blocks: str) -> str:
    return (
        "</think> <answer>"
        + "".join(f"```{k}\n{v}\n```\n" for k, v in blocks.items())
        + "</answer>"
    )


if __name__ == "__main__":
    # The new type plays both roles in an env, alone here (add it to the paper's three with
    # task_types=["deduction", "abduction", "induction", "type_prediction"]).
    env = gym.make("azr_env/SelfPlay-v0", task_types=["type_prediction"])
    obs, info = env.reset(seed=0)
    print(obs["role"], obs["task_type"])
    _, reward, *_, info = env.step(completion(python="def f(xs):\n    return {x % 3 for x in xs}",
                                              input="[1, 2, 3, 4]"))
    print(f"propose: reward={reward:+.1f} reason={info['reason']} added={info['added_to_buffer']}")

    obs, info = env.reset()  # a solve task drawn from the type's buffer: the proposal just added
    print(obs["role"], obs["task_type"], "| prompt ends:", obs["prompt"].splitlines()[-2])
    task = info["task"]  # what the prompt shows (program and input): enough to pose it again
    attempts = {"set": completion(output="set"), "list": completion(output="list"),
                "unclosed answer": "</think> <answer>set"}
    for label, action in attempts.items():
        _, reward, *_, step_info = env.step(action)
        print(f"solve {label:16s}: reward={reward:+.1f} reason={step_info['reason']}")
        obs, info = env.reset(options={"task": task})  # pose the same task again

    # Any task can be posed directly, e.g. to evaluate; the env validates it in the sandbox.
    obs, info = env.reset(options={"task": {
        "program": "class Point:\n    def __init__(self, x):\n        self.x = x\n"
                   "    def __repr__(self):\n        return f'Point({self.x})'\n"
                   "def f(a):\n    return Point(a)",
        "input": "3"}})
    _, reward, *_, step_info = env.step(completion(output="Point"))
    print(f"solve {'Point (posed)':16s}: reward={reward:+.1f} reason={step_info['reason']}")
    env.close()
