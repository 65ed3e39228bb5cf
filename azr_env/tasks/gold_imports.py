"""The gold program's imports, put before an induction solver's program (`EnvConfig.gold_imports`).

The reference code (`parse_imports` in `utils/code_utils/parsers.py`, used by `code_f` answer
checks in `rewards/reward_managers.py`) collects every `import`/`from ... import` statement of
the program an induction task was made from, wherever it stands (inside functions too), rebuilt
as one line each, and runs the solver's program with those lines joined in front of it. A
solver that uses `math` without importing it is thus right there, and wrong here by default.

The reference de-duplicates the lines through a `set` (an order that changes between runs);
here the first occurrence's order is kept, so a check runs the same text every time.
"""

from __future__ import annotations

import ast


def _names(node: ast.Import | ast.ImportFrom) -> str:
    return ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in node.names)


def import_lines(program: str) -> list[str]:
    """Every import statement of `program`, one line each, first occurrence first.

    A program that does not parse (a gold program always does) contributes no lines.
    """
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    lines: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            lines.append("import " + _names(node))
        elif isinstance(node, ast.ImportFrom):
            lines.append(f"from {'.' * node.level}{node.module or ''} import {_names(node)}")
    return list(dict.fromkeys(lines))


def with_gold_imports(answer: str, gold_program: str) -> str:
    """The solver's program as the reference runs it: the gold program's import lines, then
    the program (unchanged when the gold program imports nothing)."""
    lines = import_lines(gold_program)
    return "\n".join(lines) + "\n" + answer if lines else answer
