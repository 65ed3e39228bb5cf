"""Static checks of proposed programs and inputs: parsing only, nothing is ever run here.

These run in the trusted process before anything reaches the sandbox, so they use `ast` alone
(never `exec` or `eval`). They catch what is cheap to catch (syntax, a missing `f`, forbidden
modules) and save executor jobs; the sandbox enforces the real limits regardless. Each failure is
a short reason code the env reports in `info` (docs/concepts.md#a-proposal-is-valid-when).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from azr_env.executor.sandbox.answers import dotted_name

REFERENCE_BANNED_MODULES: tuple[str, ...] = (
    "logging", "random", "multiprocessing", "pebble", "subprocess", "threading", "datetime",
    "time", "hashlib", "hmac", "bcrypt", "calendar", "os.sys", "os.path", "os.environ",
    "sys.exit",
)
"""The reference implementation's forbidden modules and names
(docs/concepts.md#a-proposal-is-valid-when)."""

DYNAMIC_IMPORTS: frozenset[str] = frozenset({"__import__", "importlib"})
"""Names that import modules at run time, which an import-statement check alone would miss."""

_PARSE_FAILURES = (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError)
ENTRY = "f"


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except _PARSE_FAILURES:
        return None


def _is_banned(dotted: str, banned: Sequence[str]) -> bool:
    """Whether a module path or attribute chain names a banned entry.

    An import is banned when it is a banned module or inside one (`random`, `os.path.join`,
    `time` for `import time`); a dotted entry like `os.sys` also bans a chain that contains it.
    """
    wrapped = f".{dotted}."
    for entry in banned:
        if dotted == entry or dotted.startswith(entry + "."):
            return True
        if "." in entry and f".{entry}." in wrapped:
            return True
    return False


def forbidden_use(tree: ast.AST, banned: Sequence[str]) -> str | None:
    """The reason a parsed program is refused for what it imports or reaches, or None.

    Checks import statements, `__import__` / `importlib` anywhere (dynamic imports), and
    attribute chains that contain a dotted banned name (`os.sys`, `sys.exit`). This is a filter
    that keeps proposals honest with the prompt, not a security boundary: the sandbox is that.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in DYNAMIC_IMPORTS:
                    return "dynamic_import"
                if _is_banned(alias.name, banned):
                    return "forbidden_module"
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[0] in DYNAMIC_IMPORTS:
                return "dynamic_import"
            for alias in node.names:
                if _is_banned(module, banned) or _is_banned(f"{module}.{alias.name}", banned):
                    return "forbidden_module"
        elif isinstance(node, ast.Name) and node.id in DYNAMIC_IMPORTS:
            return "dynamic_import"
        elif isinstance(node, ast.Attribute):
            if node.attr in DYNAMIC_IMPORTS:
                return "dynamic_import"
            dotted = dotted_name(node)
            if dotted is not None and any(
                "." in entry and _is_banned(dotted, [entry]) for entry in banned
            ):
                return "forbidden_module"
    return None


def _entry_function(tree: ast.Module) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    found = None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == ENTRY:
            found = node
    return found


def _has_parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    a = fn.args
    return bool(a.posonlyargs or a.args or a.kwonlyargs or a.vararg or a.kwarg)


def strip_top_level_calls(source: str) -> str:
    """Drop top-level expression statements (`print(f(x))`, `f(1)`) and `__main__` blocks.

    The proposer prompt says anything after `f`'s return is removed; models often append a demo
    call. Removing those lines keeps every definition and import as written.
    """
    tree = _parse(source)
    if tree is None:
        return source
    drop: set[int] = set()
    for node in tree.body:
        is_call = isinstance(node, ast.Expr) and not (
            isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        )
        is_main = isinstance(node, ast.If) and any(
            isinstance(part, ast.Name) and part.id == "__name__" for part in ast.walk(node.test))
        if (is_call or is_main) and node.end_lineno is not None:
            drop.update(range(node.lineno, node.end_lineno + 1))
    if not drop:
        return source
    lines = source.splitlines()
    return "\n".join(line for i, line in enumerate(lines, start=1) if i not in drop).rstrip()


def check_program(source: str, banned: Sequence[str], max_chars: int) -> str | None:
    """The reason a program is refused before it runs, or None when it may go to the sandbox.

    Reasons: `program_too_long`, `syntax_error`, `no_entry_function`, `entry_without_parameters`,
    `forbidden_module`, `dynamic_import`.
    """
    if len(source) > max_chars:
        return "program_too_long"
    tree = _parse(source)
    if tree is None:
        return "syntax_error"
    entry = _entry_function(tree)
    if entry is None:
        return "no_entry_function"
    if not _has_parameters(entry):
        return "entry_without_parameters"
    return forbidden_use(tree, banned)


def check_input(args: str, max_chars: int) -> str | None:
    """The reason call-argument text is refused (`input_too_long`, `bad_input`), or None.

    The text must parse as the arguments of one call `f(<args>)`, nothing more: `1), g(2` is
    refused here rather than left to the sandbox.
    """
    if len(args) > max_chars:
        return "input_too_long"
    if not args.strip():
        return "bad_input"
    try:
        expr = ast.parse(f"f(\n{args}\n)", mode="eval").body
    except _PARSE_FAILURES:
        return "bad_input"
    if not (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "f"):
        return "bad_input"
    return None


def mentions_program(message: str, program: str) -> bool:
    """Whether a message gives the program away (its text, ignoring whitespace)."""
    squeezed = "".join(program.split())
    return bool(squeezed) and squeezed in "".join(message.split())
