"""The `TaskType` interface: what one task type owns, and the records that flow through it.

A task type owns its prompt fields, the parsing of proposals and answers (through the swappable
prompt format), the static part of proposal validation, and its answer check. It owns nothing
else: sampling order, execution of proposals, rewards and buffers are the env's, shared by every
type. A fourth type (e.g. the paper's error prediction) is one subclass in one module with one
`register_task_type` line at its bottom.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from azr_env.buffers import TaskBuffers
from azr_env.errors import AZRConfigError
from azr_env.executor import Executor
from azr_env.executor.checks import Verdict
from azr_env.formats import PromptFields, PromptFormat
from azr_env.task import Task
from azr_env.tasks.program import REFERENCE_BANNED_MODULES, check_input, check_program


@dataclass(frozen=True)
class TaskSettings:
    """The env options task types read (a view of `EnvConfig`, so task modules need no env).

    - `banned_modules`: forbidden modules and dotted names (default: the reference list).
    - `show_banned`: list them in proposer prompts, as the reference does.
    - `num_inputs`: inputs an induction proposer writes (paper: 10; half are held out).
    - `max_program_chars`, `max_input_chars`, `max_message_chars`: size caps on proposals,
      which also bound the prompts that later show them.
    - `time_limit_s`: the execution limit stated in prompts (the executor enforces its own).
    - `one_function`, `induction_extra_inputs`: the reference's proposal rules
      (`azr_env.tasks.reference_rules`).
    - `gold_imports`: an induction solver's program runs after the gold program's import lines,
      as the reference runs it (`azr_env.tasks.gold_imports`).
    """

    banned_modules: tuple[str, ...] = REFERENCE_BANNED_MODULES
    show_banned: bool = True
    num_inputs: int = PromptFields.num_inputs
    max_program_chars: int = 20_000
    max_input_chars: int = 5_000
    max_message_chars: int = 5_000
    time_limit_s: float = PromptFields.time_limit_s
    one_function: bool = False
    induction_extra_inputs: str = "reject"
    gold_imports: bool = False

    def banned_keywords(self) -> tuple[str, ...]:
        return self.banned_modules if self.show_banned else ()


@dataclass(frozen=True)
class ProposeContext:
    """What a proposer is shown: K reference tasks, or (induction) the program to write inputs
    for."""

    references: tuple[Task, ...] = ()
    program: Task | None = None


@dataclass(frozen=True)
class Proposal:
    """A parsed proposal: a program with its inputs (and the induction message)."""

    program: str
    inputs: tuple[str, ...]
    message: str = ""


@dataclass(frozen=True)
class Rejection:
    """Why a proposal or an answer could not be parsed, or was refused before running."""

    reason: str
    detail: str | None = None


@dataclass(frozen=True)
class Validation:
    """The outcome of validating one proposal: the new task when valid, else a named reason.

    `infra` marks the sandbox's own failure: the proposal was not judged and is not the
    model's fault.
    """

    valid: bool
    reason: str
    task: Task | None = None
    detail: str | None = None
    infra: bool = False


class TaskType(ABC):
    """One task type: prompts, parsing, static validation and the answer check.

    Subclasses set `name` (the `Task.task_type` string) and `answer_kind` (the fenced block a
    solver answers in), and implement the abstract methods. Everything batched takes lists so
    that the env can send a whole step to the executor in one call.
    """

    name: ClassVar[str]
    answer_kind: ClassVar[str]

    # -- buffers -----------------------------------------------------------------------------
    def seed_tasks(self) -> list[Task]:
        """The tasks a fresh buffer of this type starts from (the paper's types: their zero
        task, the identity function). A new type overrides this, or its buffers are given
        `seed_tasks` explicitly (`BufferConfig(zero=False)` starts them empty)."""
        raise AZRConfigError(
            f"task type {self.name!r} defines no seed tasks: override seed_tasks() or pass "
            "seed_tasks=... to its buffer"
        )

    # -- proposing ---------------------------------------------------------------------------
    @abstractmethod
    def propose_context(
        self, buffers: TaskBuffers, rng: np.random.Generator, settings: TaskSettings
    ) -> ProposeContext:
        """Draw what the proposer is shown (references, or a program) with `rng` only."""

    @abstractmethod
    def propose_fields(self, context: ProposeContext, settings: TaskSettings) -> PromptFields:
        """The fields of the proposer's prompt."""

    @abstractmethod
    def parse_proposal(
        self, fmt: PromptFormat, answer: str, context: ProposeContext, settings: TaskSettings
    ) -> Proposal | Rejection:
        """Read the proposal out of the answer part of a completion; never raises."""

    def static_check(self, proposal: Proposal, settings: TaskSettings) -> Rejection | None:
        """Refuse what parsing alone can refuse (docs/concepts.md#a-proposal-is-valid-when)."""
        reason = check_program(
            proposal.program, settings.banned_modules, settings.max_program_chars
        )
        if reason is not None:
            return Rejection(reason)
        for number, args in enumerate(proposal.inputs, start=1):
            reason = check_input(args, settings.max_input_chars)
            if reason is not None:
                return Rejection(reason, f"input {number}")
        return None

    def make_task(self, proposal: Proposal, outputs: Sequence[str], encoded: list[object],
                  step: int) -> Task:
        """The task a valid proposal becomes, once its outputs were computed."""
        return Task(
            task_type=self.name,
            program=proposal.program,
            inputs=proposal.inputs,
            outputs=tuple(outputs),
            message=proposal.message,
            encoded=encoded,
            step=step,
        )

    # -- solving -----------------------------------------------------------------------------
    @abstractmethod
    def solve_fields(self, task: Task) -> PromptFields:
        """The fields of the solver's prompt (what the solver is allowed to see)."""

    def parse_answer(self, fmt: PromptFormat, answer: str) -> str | None:
        """The solver's answer: the last block of `answer_kind`, or what the format reads
        instead (`PromptFormat.answer_value`; None: malformed)."""
        return fmt.answer_value(answer, self.answer_kind)

    def answer_to_check(self, task: Task, answer: str, settings: TaskSettings) -> str:
        """The parsed answer as `check_answers` receives it; the default leaves it as written
        (induction puts the gold program's imports first with `settings.gold_imports`)."""
        return answer

    @abstractmethod
    def check_answers(
        self, executor: Executor, tasks: Sequence[Task], answers: Sequence[str]
    ) -> list[Verdict]:
        """Judge parsed answers against their tasks' gold values, batched, in the sandbox."""
