"""Abduction: the solver sees a program and an output and finds an input
(docs/concepts.md#three-task-types-two-roles-six-groups).

Any input that makes `f` return the gold value is right, not only the proposer's: the check runs
`f(predicted input)` in the sandbox and compares values in the trusted process.
"""

from __future__ import annotations

from collections.abc import Sequence

from azr_env.executor import Executor
from azr_env.executor.checks import InputCheck, Verdict, check_inputs
from azr_env.formats import PromptFields
from azr_env.task import ABDUCTION, Task
from azr_env.tasks.deduction import TripletTaskType
from azr_env.tasks.registry import register_task_type


class AbductionTask(TripletTaskType):
    """Find an input `x` with `f(x) == output` from the program and the output."""

    name = ABDUCTION
    answer_kind = "input"

    def solve_fields(self, task: Task) -> PromptFields:
        return PromptFields(program=task.program, output=task.output)

    def check_answers(
        self, executor: Executor, tasks: Sequence[Task], answers: Sequence[str]
    ) -> list[Verdict]:
        return check_inputs(
            executor,
            [InputCheck(t.program, a, t.encoded[0]) for t, a in zip(tasks, answers, strict=True)],
        )


register_task_type(AbductionTask())
