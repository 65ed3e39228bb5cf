"""A plain-chat format: no think tags, the reply ends with an `Answer:` line.

Meant for instruction-tuned chat models that do not follow the R1 template, and as the proof
that the prompt format is a swappable component: the same task modules and env work with it
unchanged. The answer is everything after the last line that starts with `Answer:`. Blocks are
fenced as in R1; an answer without any fence counts as a single block of whatever kind is asked,
so a solver may simply write `Answer: 42`.
"""

from __future__ import annotations

import re
from collections import deque
from typing import ClassVar

from azr_env.formats.base import FENCE, PromptFields, PromptFormat, Renderer, fenced
from azr_env.task import ABDUCTION, DEDUCTION, INDUCTION

_ANSWER_LINE = re.compile(r"^[ \t]*answer[ \t]*:", re.IGNORECASE | re.MULTILINE)

_RULES = (
    "The program must define a deterministic function `f` with at least one parameter that "
    "returns a value; no randomness, time, I/O, printing or external state; imports and classes "
    "at the top; it must finish within {limit} seconds."
)


def _rules(fields: PromptFields) -> str:
    text = _RULES.format(limit=f"{fields.time_limit_s:g}")
    if fields.banned_keywords:
        text += f" Do not use these words anywhere: {', '.join(fields.banned_keywords)}."
    return text


def _examples(fields: PromptFields) -> str:
    return "".join(
        f"\nExample {i + 1}:\n{fenced('python', r.program)}\n{fenced('input', r.input)}\n"
        f"{fenced('output', r.output)}\n"
        for i, r in enumerate(fields.references)
    )


def _triplet_propose(fields: PromptFields, shown: str, hidden: str) -> str:
    return (
        f"Write a new, hard Python program and one input for it. Another model will see the "
        f"program and the {shown} and must find the {hidden}. {_rules(fields)} Make it clearly "
        f"different from the examples.\n{_examples(fields)}\n"
        "End your reply with a line `Answer:` followed by a ```python block with the program "
        "and an ```input block with the call arguments (quote strings; separate arguments "
        "with commas)."
    )


def deduction_propose(fields: PromptFields) -> str:
    return _triplet_propose(fields, "input", "output")


def abduction_propose(fields: PromptFields) -> str:
    return _triplet_propose(fields, "output", "input")


def induction_propose(fields: PromptFields) -> str:
    return (
        f"Here is a Python program:\n{fenced('python', fields.program)}\n"
        f"Write {fields.num_inputs} varied inputs for `f` and a short message. Another model will "
        "see some of the inputs with their outputs and your message, and must write the program. "
        "The message must not contain the program.\n"
        f"End your reply with a line `Answer:` followed by {fields.num_inputs} ```input blocks "
        "(one call's arguments each) and one ```message block."
    )


def deduction_solve(fields: PromptFields) -> str:
    return (
        f"What does `f` return for this input?\n{fenced('python', fields.program)}\n"
        f"Input: {fields.input}\n"
        "End your reply with a line `Answer:` followed by the returned value as a Python literal."
    )


def abduction_solve(fields: PromptFields) -> str:
    return (
        f"Find an input for which `f` returns the given output.\n"
        f"{fenced('python', fields.program)}\nOutput: {fields.output}\n"
        "End your reply with a line `Answer:` followed by the call arguments (quote strings; "
        "separate arguments with commas)."
    )


def induction_solve(fields: PromptFields) -> str:
    pairs = "".join(f"f({inp}) -> {out}\n" for inp, out in fields.pairs)
    return (
        f"Write a Python function `f` that maps these inputs to these outputs:\n{pairs}"
        f"Hint from the author: {fields.message}\n"
        f"{_rules(fields)}\n"
        "End your reply with a line `Answer:` followed by a ```python block with the program."
    )


class PlainFormat(PromptFormat):
    """Plain chat: instructions in prose, the answer after the last `Answer:` line."""

    name: ClassVar[str] = "plain"
    templates: ClassVar[dict[tuple[str, str], Renderer]] = {
        (DEDUCTION, "propose"): deduction_propose,
        (ABDUCTION, "propose"): abduction_propose,
        (INDUCTION, "propose"): induction_propose,
        (DEDUCTION, "solve"): deduction_solve,
        (ABDUCTION, "solve"): abduction_solve,
        (INDUCTION, "solve"): induction_solve,
    }

    def wrap(self, body: str) -> str:
        return body.strip() + "\n"

    def extract_answer(self, text: str) -> str | None:
        """Everything after the last line starting with `Answer:`; None without such a line."""
        if not isinstance(text, str):
            return None
        last = deque(_ANSWER_LINE.finditer(text), maxlen=1)
        if not last:
            return None
        return text[last[0].end() :].strip()

    def all_blocks(self, answer: str | None, kind: str) -> list[str]:
        """Fenced blocks of `kind`; a non-empty answer without any fence is one block."""
        if not isinstance(answer, str):
            return []
        if FENCE not in answer:
            return [answer.strip()] if answer.strip() else []
        return super().all_blocks(answer, kind)

    def last_block(self, answer: str | None, kind: str) -> str | None:
        """The last fenced block of `kind`; a non-empty answer without any fence is the block."""
        if isinstance(answer, str) and FENCE not in answer:
            return answer.strip() or None
        return super().last_block(answer, kind)
