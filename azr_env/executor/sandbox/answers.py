"""Answers are values, not computations.

A deduction answer is evaluated in the program's namespace, so that `Fraction(1, 2)` or a class
of the program's own can be written; an abduction answer the same way. Without a rule, the
answer `f('abc')` makes the sandbox compute the gold output for the solver, and
`next(x for x in range(10**6) if f(x) == 3)` makes it search for the input: both would earn the
full reward without any reasoning. So an answer may hold literals, containers, arithmetic on them,
names, and calls of *classes* (`set(...)`, `float('nan')`, `Fraction(1, 2)`,
`defaultdict(int, {...})`); calling a function, `f` included, and comprehensions, lambdas,
conditionals and subscripts are refused.
"""

from __future__ import annotations

import ast
import builtins
from typing import Any

_ALLOWED = (
    ast.Expression, ast.Constant, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.UnaryOp,
    ast.BinOp, ast.Name, ast.Load, ast.Call, ast.Attribute, ast.keyword, ast.Starred,
    ast.unaryop, ast.operator,
)
_MISSING = object()


def _resolve(node: ast.expr, namespace: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        found = namespace.get(node.id, _MISSING)
        return getattr(builtins, node.id, _MISSING) if found is _MISSING else found
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, namespace)
        if owner is _MISSING:
            return _MISSING
        try:
            return getattr(owner, node.attr)
        except Exception:
            return _MISSING
    return _MISSING


def value_expression_problem(tree: ast.AST, namespace: dict[str, Any]) -> str | None:
    """Why the expression `tree` is not a plain value, or None when it is one."""
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            return f"an answer must be a value: {type(node).__name__} is not allowed in it"
        if isinstance(node, ast.Call):
            target = _resolve(node.func, namespace)
            if target is _MISSING or isinstance(target, type):
                continue  # an unknown name fails as a bad answer when evaluated
            return ("an answer must be a value, not a computation: only classes such as set, "
                    "float or Fraction may be called in it, not functions such as f")
    return None


def argument_problem(text: str, namespace: dict[str, Any]) -> str | None:
    """The same rule for call-argument text such as `[1, 2], key='v'`."""
    try:
        call = ast.parse(f"_(\n{text}\n)", mode="eval").body
    except SyntaxError:
        return None  # reported by the evaluation itself, as for any answer
    if not isinstance(call, ast.Call):
        return "the input must be call arguments"
    for part in [*call.args, *call.keywords]:
        problem = value_expression_problem(part, namespace)
        if problem is not None:
            return problem
    return None


def expression_problem(text: str, namespace: dict[str, Any]) -> str | None:
    try:
        tree = ast.parse(f"(\n{text}\n)", mode="eval")
    except SyntaxError:
        return None
    return value_expression_problem(tree, namespace)
