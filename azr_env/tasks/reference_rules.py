"""Proposal rules of the reference code that are options here (`EnvConfig`; `paper-7b` turns
them on through `selfplay.env`).

- `one_function`: the reference (`rewards/code_reward.py`, `parse_code_input_output`) refuses a
  program with more than one `def` line, nested functions and class methods included, and
  renames its one function to `f` (its definition and every call). By default any program with
  a function `f` is accepted, helpers and classes included.
- `induction_extra_inputs="keep_last"`: the reference (`parse_inputs_message`) accepts an
  induction proposal with more than N inputs and keeps the last N; by default exactly N are
  required.

Like all parsing here, these use linear-time scans: the `def` lines are found with a pattern
anchored at line starts that never crosses a line (the reference's `^\\s*def` may, which only
matters for a `def` split over lines, a syntax error either way).
"""

from __future__ import annotations

import re

from azr_env.tasks.base import Rejection

INDUCTION_EXTRA_INPUTS: tuple[str, ...] = ("reject", "keep_last")

_DEF_LINE = re.compile(r"^[ \t]*def[ \t]+(\w+)[ \t]*\(", re.MULTILINE)


def one_function_named_f(program: str) -> str | Rejection:
    """The program with its only function renamed to `f`, or why it is refused."""
    names = _DEF_LINE.findall(program)
    if not names:
        return Rejection("no_function")
    if len(names) > 1:
        return Rejection("several_functions", f"{len(names)} def lines: {', '.join(names[:5])}")
    name = names[0]
    if name == "f":
        return program
    renamed = re.sub(rf"def[ \t]+{re.escape(name)}[ \t]*\(", "def f(", program)
    return re.sub(rf"\b{re.escape(name)}\s*\(", "f(", renamed)


def induction_inputs(found: list[str], wanted: int, extra: str) -> list[str] | Rejection:
    """The N inputs of an induction proposal that wrote `found` input blocks."""
    if len(found) == wanted or (extra == "keep_last" and len(found) > wanted):
        return found[len(found) - wanted :]
    return Rejection("wrong_number_of_inputs", f"{len(found)} input blocks, {wanted} asked")
