"""The prompt-format protocol: how tasks become prompts and completions become answer blocks.

A format owns two things and nothing else: the wording of the six (task type, role) prompts,
rendered from structured `PromptFields`, and the parsing of a completion into its answer and the
fenced blocks inside it. Task modules decide *which* fields a prompt shows and *which* block kind
an answer must use; the format decides how they look. Swapping the format (R1 tags, plain chat,
a chat template of your own) therefore changes no task code.

Parsers are fed raw model output, so they never raise and run in linear time: they use `str.find`
scans and anchored, bounded regular expressions only (no backtracking over the whole text).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from azr_env.errors import AZRConfigError
from azr_env.task import Task

PROPOSE = "propose"
SOLVE = "solve"

FENCE = "```"

BLOCK_ALIASES: dict[str, frozenset[str]] = {
    # The reference parser takes any fence without a language as code; "py" is common too.
    "python": frozenset({"python", "py", "python3", ""}),
}
"""Fence info strings accepted for a block kind besides the kind itself."""

_INFO = re.compile(r"[A-Za-z0-9_+.\-]*")


@dataclass(frozen=True)
class Reference:
    """A solved example shown to a proposer: program, input and output as text."""

    program: str
    input: str
    output: str

    @classmethod
    def from_task(cls, task: Task) -> Reference:
        """The first (input, output) pair of a buffer task."""
        return cls(program=task.program, input=task.input, output=task.output)


@dataclass(frozen=True)
class PromptFields:
    """Everything a prompt may show; each template reads the fields its task type needs.

    - `program`, `input`, `output`: the task shown to a solver (deduction: program + input;
      abduction: program + output); for the induction proposer, `program` is the snippet to
      write inputs for.
    - `pairs`: the (input, output) pairs shown to an induction solver.
    - `message`: the induction proposer's message to the solver.
    - `references`: the K reference tasks shown to a deduction/abduction proposer.
    - `num_inputs`: how many inputs the induction proposer must write (paper: 10).
    - `banned_keywords`: words a proposer may not use (the forbidden modules); omitted if empty.
    - `time_limit_s`: the execution time limit stated to proposers.
    """

    program: str = ""
    input: str = ""
    output: str = ""
    pairs: tuple[tuple[str, str], ...] = ()
    message: str = ""
    references: tuple[Reference, ...] = ()
    num_inputs: int = 10
    banned_keywords: tuple[str, ...] = ()
    time_limit_s: float = 10.0


Renderer = Callable[[PromptFields], str]
"""Builds the body of one prompt (before the format's `wrap`) from its fields."""


def fenced(kind: str, content: str) -> str:
    """One fenced block as the prompts show it (and as the model is asked to write it)."""
    return f"{FENCE}{kind}\n{content}\n{FENCE}"


def iter_fenced_blocks(text: str) -> Iterator[tuple[str, str]]:
    """Yield (info, raw body) for each closed fenced block, in order; never raises.

    Fences pair up left to right: a fence opens a block, its info string is the run of word
    characters right after it (lower-cased), and the next fence closes it. An unclosed final
    fence yields nothing. Each character is visited a bounded number of times.
    """
    pos = 0
    while True:
        start = text.find(FENCE, pos)
        if start < 0:
            return
        info_start = start + len(FENCE)
        match = _INFO.match(text, info_start)
        info_end = match.end() if match else info_start
        close = text.find(FENCE, info_end)
        if close < 0:
            return
        yield text[info_start:info_end].lower(), text[info_end:close]
        pos = close + len(FENCE)


def clean_block(body: str, *, keep_indent: bool) -> str:
    """The content of a block body: text on the fence line after the info string, or the lines
    below it; leading blank lines and trailing whitespace dropped. Code keeps the indentation of
    its first line (`keep_indent`); values are stripped on both sides."""
    head = body.lstrip(" \t")
    if not keep_indent:
        return head.strip()
    if head.startswith(("\n", "\r\n", "\r")):
        lead = len(head) - len(head.lstrip())
        cut = max(head.rfind("\n", 0, lead), head.rfind("\r", 0, lead)) + 1
        return head[cut:].rstrip()
    return head.rstrip()


def _kind_matches(info: str, kind: str) -> bool:
    return info == kind or info in BLOCK_ALIASES.get(kind, ())


class PromptFormat(ABC):
    """A prompt format: renders prompts from fields, and parses completions into blocks.

    Subclasses fill `templates` (one renderer per (task type, role)) and implement `wrap` and
    `extract_answer`. A new task type adds its renderers with `add_template` on each format it
    supports, without editing the format's module.
    """

    name: ClassVar[str] = ""
    templates: ClassVar[dict[tuple[str, str], Renderer]]

    # -- rendering ---------------------------------------------------------------------------
    @abstractmethod
    def wrap(self, body: str) -> str:
        """Turn a task description into the full prompt text the policy continues."""

    @classmethod
    def add_template(cls, task_type: str, role: str, renderer: Renderer) -> None:
        """Register the renderer of a (task type, role) prompt for this format."""
        if role not in (PROPOSE, SOLVE):
            raise AZRConfigError(f"role must be 'propose' or 'solve', got {role!r}")
        cls.templates[(task_type, role)] = renderer

    def render(self, task_type: str, role: str, fields: PromptFields) -> str:
        """The full prompt for one (task type, role)."""
        renderer = type(self).templates.get((task_type, role))
        if renderer is None:
            known = sorted({t for t, _ in type(self).templates})
            raise AZRConfigError(
                f"format {self.name!r} has no {role!r} template for task type {task_type!r} "
                f"(it knows {known}); register one with {type(self).__name__}.add_template"
            )
        return self.wrap(renderer(fields))

    def propose_prompt(self, task_type: str, fields: PromptFields) -> str:
        """The proposer's prompt for `task_type`."""
        return self.render(task_type, PROPOSE, fields)

    def solve_prompt(self, task_type: str, fields: PromptFields) -> str:
        """The solver's prompt for `task_type`."""
        return self.render(task_type, SOLVE, fields)

    # -- parsing -----------------------------------------------------------------------------
    @abstractmethod
    def extract_answer(self, text: str) -> str | None:
        """The answer part of a completion, or None when there is none (a format error)."""

    def extract(self, text: str, task_type: str, role: str) -> str | None:
        """The answer part of a completion written for a (task type, role) prompt.

        The env calls this one. Formats whose answers carry their own markup (R1's tags, plain's
        `Answer:` line) ignore the group; a completion-style format, whose prompt ends mid-line,
        needs it to know what the continuation is (see `azr_env.formats.completion`).
        """
        return self.extract_answer(text)

    def all_blocks(self, answer: str | None, kind: str) -> list[str]:
        """Contents of every closed fenced block of `kind` in `answer`, in order."""
        if not isinstance(answer, str):
            return []
        keep_indent = kind == "python"
        return [
            clean_block(body, keep_indent=keep_indent)
            for info, body in iter_fenced_blocks(answer)
            if _kind_matches(info, kind)
        ]

    def last_block(self, answer: str | None, kind: str) -> str | None:
        """The last closed fenced block of `kind` in `answer` (the one that counts), or None."""
        if not isinstance(answer, str):
            return None
        last = None
        for info, body in iter_fenced_blocks(answer):
            if _kind_matches(info, kind):
                last = body
        return None if last is None else clean_block(last, keep_indent=kind == "python")

    def answer_value(self, answer: str | None, kind: str) -> str | None:
        """A solver's answer of `kind` in `answer`: by default its last `kind` block (a format
        may read more forms, e.g. `R1Format(answer_fallbacks=True)`)."""
        return self.last_block(answer, kind)

    def parse(self, text: str, kind: str) -> str | None:
        """Shortcut for a solver: the last `kind` block of the completion's answer, or None."""
        return self.last_block(self.extract_answer(text), kind)
