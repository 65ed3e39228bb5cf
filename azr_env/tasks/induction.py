"""Induction: the solver sees input/output pairs and a message and writes the program.

The proposer is shown one program drawn from the deduction and abduction buffers together and
writes N inputs (paper: 10) and a message. The solver sees the first half of the pairs; its
program is right only if it reproduces every pair of the held-out second half.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from azr_env.buffers import TaskBuffers
from azr_env.executor import Executor
from azr_env.executor.checks import ProgramCheck, Verdict, check_programs
from azr_env.formats import PromptFields, PromptFormat
from azr_env.task import INDUCTION, ZERO_PROGRAM, ZERO_STEP, Task
from azr_env.tasks.base import Proposal, ProposeContext, Rejection, TaskSettings, TaskType
from azr_env.tasks.gold_imports import with_gold_imports
from azr_env.tasks.program import mentions_program
from azr_env.tasks.reference_rules import induction_inputs
from azr_env.tasks.registry import register_task_type

ZERO_MESSAGE = "Write a function that returns whatever you input"

# The reference implementation's induction seed inputs, written as call arguments, with the
# reprs that `f` (the identity) returns for them.
_ZERO_PAIRS: tuple[tuple[str, str], ...] = (
    ("'Hello world'", "'Hello world'"),
    ("1", "1"),
    ("dict(a=1, b=2)", "{'a': 1, 'b': 2}"),
    ("(1.1, 1.2, 1.3)", "(1.1, 1.2, 1.3)"),
    ("'[[1, 0, 0], [0, 0, 0], [0, 0, 0]]'", "'[[1, 0, 0], [0, 0, 0], [0, 0, 0]]'"),
    ("1001101100010001", "1001101100010001"),
)


def num_shown(task: Task) -> int:
    """How many pairs the solver sees: the first half, rounded up (5 of the paper's 10)."""
    n = len(task.inputs)
    return n - n // 2


def held_out(task: Task) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """The held-out inputs and their gold trees (the second half of the pairs)."""
    k = num_shown(task)
    trees = tuple(task.encoded[k:]) if task.encoded is not None else ()
    return task.inputs[k:], trees


class InductionTask(TaskType):
    """Write a program that maps the shown inputs to their outputs and generalises."""

    def seed_tasks(self) -> list[Task]:
        """The identity with the reference implementation's six varied inputs and its message."""
        return [Task(task_type=INDUCTION, program=ZERO_PROGRAM,
                     inputs=tuple(i for i, _ in _ZERO_PAIRS),
                     outputs=tuple(o for _, o in _ZERO_PAIRS), message=ZERO_MESSAGE,
                     step=ZERO_STEP)]

    name = INDUCTION
    answer_kind = "python"

    def propose_context(
        self, buffers: TaskBuffers, rng: np.random.Generator, settings: TaskSettings
    ) -> ProposeContext:
        picked = buffers.sample_programs(rng, 1)
        program = picked[0] if picked else Task(INDUCTION, ZERO_PROGRAM, ("1",), ("1",))
        return ProposeContext(program=program)

    def propose_fields(self, context: ProposeContext, settings: TaskSettings) -> PromptFields:
        program = context.program.program if context.program is not None else ZERO_PROGRAM
        return PromptFields(
            program=program,
            num_inputs=settings.num_inputs,
            banned_keywords=settings.banned_keywords(),
            time_limit_s=settings.time_limit_s,
        )

    def parse_proposal(
        self, fmt: PromptFormat, answer: str, context: ProposeContext, settings: TaskSettings
    ) -> Proposal | Rejection:
        inputs = induction_inputs(fmt.all_blocks(answer, "input"), settings.num_inputs,
                                  settings.induction_extra_inputs)
        if isinstance(inputs, Rejection):
            return inputs
        message = fmt.last_block(answer, "message")
        if message is None:
            return Rejection("no_message_block")
        program = context.program.program if context.program is not None else ZERO_PROGRAM
        return Proposal(program=program, inputs=tuple(inputs), message=message)

    def static_check(self, proposal: Proposal, settings: TaskSettings) -> Rejection | None:
        if len(proposal.message) > settings.max_message_chars:
            return Rejection("message_too_long")
        if mentions_program(proposal.message, proposal.program):
            return Rejection("message_contains_program")
        return super().static_check(proposal, settings)

    def solve_fields(self, task: Task) -> PromptFields:
        k = num_shown(task)
        pairs = tuple(zip(task.inputs[:k], task.outputs[:k], strict=True))
        return PromptFields(pairs=pairs, message=task.message)

    def answer_to_check(self, task: Task, answer: str, settings: TaskSettings) -> str:
        """With `gold_imports`, the gold program's import lines before the solver's program."""
        return with_gold_imports(answer, task.program) if settings.gold_imports else answer

    def check_answers(
        self, executor: Executor, tasks: Sequence[Task], answers: Sequence[str]
    ) -> list[Verdict]:
        checks = []
        for task, answer in zip(tasks, answers, strict=True):
            inputs, trees = held_out(task)
            checks.append(ProgramCheck(answer, inputs, trees))
        return check_programs(executor, checks)


register_task_type(InductionTask())
