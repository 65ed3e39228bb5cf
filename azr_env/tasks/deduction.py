"""Deduction: the solver sees a program and an input and predicts the output
(docs/concepts.md#three-task-types-two-roles-six-groups).

The proposer writes a program and one input, shown K reference triplets from the deduction
buffer. An answer is right when its value equals the gold value (`{1, 2} == {2, 1}`,
`'a' == "a"`), compared outside the sandbox on value trees.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from azr_env.buffers import TaskBuffers
from azr_env.executor import Executor
from azr_env.executor.checks import OutputCheck, Verdict, check_outputs
from azr_env.formats import PromptFields, PromptFormat, Reference
from azr_env.task import DEDUCTION, ZERO_PROGRAM, ZERO_STEP, Task
from azr_env.tasks.base import Proposal, ProposeContext, Rejection, TaskSettings, TaskType
from azr_env.tasks.program import strip_top_level_calls
from azr_env.tasks.reference_rules import one_function_named_f
from azr_env.tasks.registry import register_task_type


class TripletTaskType(TaskType):
    """Shared by deduction and abduction: a proposal is one program and one input."""

    def seed_tasks(self) -> list[Task]:
        """The zero triplet: the identity on `'Hello world'` (docs/concepts.md)."""
        return [Task(task_type=self.name, program=ZERO_PROGRAM, inputs=("'Hello world'",),
                     outputs=("'Hello world'",), step=ZERO_STEP)]

    def propose_context(
        self, buffers: TaskBuffers, rng: np.random.Generator, settings: TaskSettings
    ) -> ProposeContext:
        return ProposeContext(references=tuple(buffers[self.name].sample_references(rng)))

    def propose_fields(self, context: ProposeContext, settings: TaskSettings) -> PromptFields:
        return PromptFields(
            references=tuple(Reference.from_task(t) for t in context.references),
            banned_keywords=settings.banned_keywords(),
            time_limit_s=settings.time_limit_s,
        )

    def parse_proposal(
        self, fmt: PromptFormat, answer: str, context: ProposeContext, settings: TaskSettings
    ) -> Proposal | Rejection:
        program = fmt.last_block(answer, "python")
        if program is None:
            return Rejection("no_python_block")
        args = fmt.last_block(answer, "input")
        if args is None:
            return Rejection("no_input_block")
        program = strip_top_level_calls(program)
        if settings.one_function:
            named = one_function_named_f(program)
            if isinstance(named, Rejection):
                return named
            program = named
        return Proposal(program=program, inputs=(args,))


class DeductionTask(TripletTaskType):
    """Predict `f(input)` from the program and the input."""

    name = DEDUCTION
    answer_kind = "output"

    def solve_fields(self, task: Task) -> PromptFields:
        return PromptFields(program=task.program, input=task.input)

    def check_answers(
        self, executor: Executor, tasks: Sequence[Task], answers: Sequence[str]
    ) -> list[Verdict]:
        return check_outputs(
            executor,
            [
                OutputCheck(a, t.encoded[0], t.output, t.program)
                for t, a in zip(tasks, answers, strict=True)
            ],
        )


register_task_type(DeductionTask())
