"""A completion-style format for small and base models: prompts are Python text to continue.

Why it exists: a 135M base model almost never writes R1's `<think>...<answer>` markup, so every
reward of a group is -1 and every advantage 0. The same model continues Python source well: shown
a few `def f ...` / `assert f(x) == y` examples and a task that ends mid-line
(`assert f(3) ==`), most of its continuations are well-formed answers. So each prompt here is a
short file of examples followed by the task, cut where the answer begins:

| group | the prompt ends with | the completion is |
|---|---|---|
| deduction solve | `assert f(<input>) ==` | the output, on the rest of the line |
| abduction solve | `# f(?) == <output>` then `assert f(` | the arguments, up to the closing `)` |
| induction solve | `# f(<in>) == <out>` lines, `# hint:`, `def f(` | a function, to a blank line |
| deduction/abduction propose | programs with `# input:`, `def f(` | program, `# input: <args>` |
| induction propose | examples, the program, `# input:` | `# input:` lines, then `# message:` |

Proposers see the K reference tasks from the buffers as their examples (the method's own
few-shot); when the buffer holds fewer distinct programs than asked (early in a run), built-in
examples fill the gap so the model still sees the layout. Solvers see fixed built-in examples.

Because a completion continues the prompt, parsing needs the (task type, role): `extract`
turns a completion into its blocks (kind -> contents, packed as JSON so that no value can be
mistaken for markup), which `all_blocks`/`last_block` hand to the task modules unchanged. Parsers
never raise and scan linearly. Rewards are the method's: a continuation that does not parse is a
format error (-1).
"""

from __future__ import annotations

import json
from typing import ClassVar

from azr_env.formats.base import PROPOSE, SOLVE, PromptFields, PromptFormat, Reference, Renderer
from azr_env.task import ABDUCTION, DEDUCTION, INDUCTION

MAX_ANSWER_LINE = 2_000
"""A solver's one-line answer longer than this is not read (the caps on outputs are far lower)."""

ENTRY = "def f("
INPUT_TAG = "# input:"
MESSAGE_TAG = "# message:"
HINT_TAG = "# hint:"
_PACKED = "\x00blocks:"
"""Prefix of an answer `extract` packed. A raw completion that starts with it (only reachable for
a group this format has no reader for) can only state its own blocks, as fences would."""

_SOLVE_SHOTS: tuple[tuple[str, str, str], ...] = (
    ("def f(x):\n    return x * 2 + 1", "3", "7"),
    ("def f(s):\n    return s[::-1].upper()", "'abc'", "'CBA'"),
    ("def f(a, n):\n    return [v for v in a if v > n]", "[4, 1, 7, 2], 2", "[4, 7]"),
)
"""(program, input, output) examples shown to deduction and abduction solvers."""

_PROPOSE_SHOTS: tuple[Reference, ...] = (
    Reference("def f(a, b):\n    return a * b - b", "4, 3", "9"),
    Reference("def f(s):\n    return s.count('a') + len(s)", "'banana'", "9"),
    Reference("def f(a):\n    return sorted(a)[-2:]", "[5, 1, 9, 3]", "[5, 9]"),
)
"""Fill-ins for a proposer's examples while its buffer holds fewer distinct programs than K."""

_INDUCTION_SHOT = (
    "def f(a, b):\n    return [x + b for x in a]",
    ("[1, 2], 3", "[], 5", "[0, -1, 4], 1", "[7], 0", "[2, 2, 2], -2", "[10, 20], 10"),
    "add the second argument to every element of the list",
)
"""One worked induction example: a program, its inputs, and the message about it."""


# -- rendering -------------------------------------------------------------------------------
def _solve_examples(with_output_hint: bool) -> str:
    parts = []
    for program, args, output in _SOLVE_SHOTS:
        hint = f"# f(?) == {output}\n" if with_output_hint else ""
        parts.append(f"{program}\n{hint}assert f({args}) == {output}\n")
    return "\n".join(parts) + "\n"


def deduction_solve(fields: PromptFields) -> str:
    return f"{_solve_examples(False)}{fields.program}\nassert f({fields.input}) =="


def abduction_solve(fields: PromptFields) -> str:
    return f"{_solve_examples(True)}{fields.program}\n# f(?) == {fields.output}\nassert f("


def _pairs(pairs: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> str:
    return "".join(f"# f({inp}) == {out}\n" for inp, out in pairs)


def induction_solve(fields: PromptFields) -> str:
    shot_program, shot_inputs, shot_message = _INDUCTION_SHOT
    shot_outputs = ("[4, 5]", "[]", "[1, 0, 5]")  # f of the first three shot inputs
    shot = _pairs(list(zip(shot_inputs[:3], shot_outputs, strict=True)))
    return (
        f"{shot}{HINT_TAG} {shot_message}\n{shot_program}\n\n"
        f"{_pairs(fields.pairs)}{HINT_TAG} {fields.message}\n{ENTRY}"
    )


def _references(fields: PromptFields) -> list[Reference]:
    """The buffer's references, each distinct program once, topped up with built-in examples to
    as many distinct programs as were drawn (at least two)."""
    target = max(2, len(fields.references))
    shown: dict[str, Reference] = {}
    for ref in (*fields.references, *_PROPOSE_SHOTS):
        if len(shown) >= target:
            break
        shown.setdefault(ref.program, ref)
    return list(shown.values())


def _triplet_propose(fields: PromptFields) -> str:
    banned = ""
    if fields.banned_keywords:
        banned = f"# Never use: {', '.join(fields.banned_keywords)}.\n"
    examples = "".join(f"{r.program}\n{INPUT_TAG} {r.input}\n\n" for r in _references(fields))
    return (
        "# Small deterministic Python functions, each with one input to call it with.\n"
        f"{banned}\n{examples}{ENTRY}"
    )


def induction_propose(fields: PromptFields) -> str:
    shot_program, shot_inputs, shot_message = _INDUCTION_SHOT
    n = max(1, fields.num_inputs)
    shown = (shot_inputs * (n // len(shot_inputs) + 1))[:n]
    inputs = "".join(f"{INPUT_TAG} {args}\n" for args in shown)
    return (
        f"# Each function is followed by {n} varied inputs and a message that describes it.\n\n"
        f"{shot_program}\n{inputs}{MESSAGE_TAG} {shot_message}\n\n"
        f"{fields.program}\n{INPUT_TAG}"
    )


# -- parsing ---------------------------------------------------------------------------------
def first_line(text: str) -> str:
    """The text up to the first line break, stripped; "" when that line is over the cap."""
    end = len(text)
    for sep in ("\n", "\r"):
        at = text.find(sep, 0, MAX_ANSWER_LINE + 1)
        if 0 <= at < end:
            end = at
    return text[:end].strip() if end <= MAX_ANSWER_LINE else ""


def call_arguments(line: str) -> str | None:
    """The argument text of a call whose `f(` is already written: everything up to the `)` that
    closes it, skipping brackets and string literals; None if it never closes on this line."""
    depth = 0
    quote = ""
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
        elif ch in "'\"":
            quote = ch * 3 if line.startswith(ch * 3, i) else ch
            i += len(quote)
            continue
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return line[:i].strip() if ch == ")" else None
            depth -= 1
        i += 1
    return None


def function_text(continuation: str) -> str | None:
    """`def f(` plus its continuation, up to the end of the program: a blank line, or a line at
    the left margin that is not part of a program (a comment, an `assert`, a call)."""
    lines = (ENTRY + continuation).splitlines()
    kept = [lines[0]]
    for line in lines[1:]:
        if not line.strip():
            break
        if not line[0].isspace() and not line.startswith(
            ("def ", "class ", "import ", "from ", "@")
        ):
            break
        kept.append(line)
    program = "\n".join(kept).rstrip()
    return program if len(kept) > 1 else None


def _pack(blocks: dict[str, list[str]]) -> str:
    return _PACKED + json.dumps(blocks)


def _unpack(answer: str) -> dict[str, list[str]] | None:
    if not answer.startswith(_PACKED):
        return None
    try:
        blocks = json.loads(answer[len(_PACKED):])
    except ValueError:
        return {}
    if not isinstance(blocks, dict):
        return {}
    return {
        k: [v for v in vs if isinstance(v, str)] for k, vs in blocks.items() if isinstance(vs, list)
    }


def _tagged(lines: list[str], tag: str) -> list[str]:
    return [line[len(tag):].strip() for line in lines if line.startswith(tag)]


def _triplet_proposal(text: str) -> str | None:
    """A program (up to its `# input:` line) and that input, as python + input blocks."""
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if line.startswith(INPUT_TAG):
            program = function_text("\n".join(lines[:number]))
            args = line[len(INPUT_TAG):].strip()
            if program is None or not args:
                return None
            return _pack({"python": [program], "input": [args]})
    return None


def _induction_proposal(text: str) -> str | None:
    """The inputs (the first line continues the prompt's `# input:`) and the message."""
    lines = [line.strip() for line in (INPUT_TAG + text).splitlines()]
    inputs = [a for a in _tagged(lines, INPUT_TAG) if a]
    messages = [m for m in _tagged(lines, MESSAGE_TAG) if m]
    if not inputs or not messages:
        return None
    return _pack({"input": inputs, "message": messages[:1]})


class CompletionFormat(PromptFormat):
    """Few-shot Python text to continue; no chat template, no tags (see the module docstring).

    Use it with `chat_template=False` on the policy and `\\n\\n` as a stop string: every
    answer ends at the first blank line.
    """

    name: ClassVar[str] = "completion"
    templates: ClassVar[dict[tuple[str, str], Renderer]] = {
        (DEDUCTION, PROPOSE): _triplet_propose,
        (ABDUCTION, PROPOSE): _triplet_propose,
        (INDUCTION, PROPOSE): induction_propose,
        (DEDUCTION, SOLVE): deduction_solve,
        (ABDUCTION, SOLVE): abduction_solve,
        (INDUCTION, SOLVE): induction_solve,
    }
    stop: ClassVar[tuple[str, ...]] = ("\n\n",)

    def wrap(self, body: str) -> str:
        return body

    def extract_answer(self, text: str) -> str | None:
        """Without a group a continuation cannot be read; the env calls `extract`."""
        return text if isinstance(text, str) and text.strip() else None

    def extract(self, text: str, task_type: str, role: str) -> str | None:
        """The continuation's blocks, packed for `all_blocks`/`last_block` (None: malformed)."""
        if not isinstance(text, str):
            return None
        if role == SOLVE:
            if task_type == DEDUCTION:
                line = first_line(text)
                return _pack({"output": [line]}) if line else None
            if task_type == ABDUCTION:
                args = call_arguments(first_line(text))
                return _pack({"input": [args]}) if args else None
            if task_type == INDUCTION:
                program = function_text(text)
                return _pack({"python": [program]}) if program else None
        elif role == PROPOSE:
            if task_type in (DEDUCTION, ABDUCTION):
                return _triplet_proposal(text)
            if task_type == INDUCTION:
                return _induction_proposal(text)
        return self.extract_answer(text)

    def all_blocks(self, answer: str | None, kind: str) -> list[str]:
        """The blocks of `kind` that `extract` found; fenced blocks in any other answer."""
        packed = _unpack(answer) if isinstance(answer, str) else None
        if packed is None:
            return super().all_blocks(answer, kind)
        return list(packed.get(kind, []))

    def last_block(self, answer: str | None, kind: str) -> str | None:
        found = self.all_blocks(answer, kind)
        return found[-1] if found else None
