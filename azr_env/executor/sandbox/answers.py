"""Answers are values, not computations: a bounded evaluator for answer text.

A solver's answer (a predicted output, or predicted call arguments) must say what a value *is*.
If it could call `f`, the answer `f(6)` would make the checker compute the gold output for the
solver, and `next(x for x in range(10**6) if f(x) == 3)` would make it search for the input.
A deny-list of such forms leaks (`type(f).__call__(f, 6)`, `list(map(f, [6])).pop()`,
`int(*map(f, [6]))`, ...), so this module never `eval`s answer text at all. It walks the parsed
expression and builds the value itself, from an allowlist:

- literals, and list / tuple / set / dict displays (with `*` and `**` of values built here);
- unary and binary arithmetic on values (`-1`, `6 * 7`, `'ab' * 3`, `2 ** 10`), with every
  result's size checked before and after, so no answer can make the checker spend more than a
  bounded amount of time or memory;
- calls of the value constructors in `CONSTRUCTORS` (`set`, `float('nan')`, `Fraction(1, 2)`,
  `defaultdict(int, {...})`, `deque([1], 3)`, ...), by name or by module path
  (`collections.Counter`), on values; `defaultdict` may also name a type as its factory;
- a few text methods (`TEXT_METHODS`) on str and bytes values: `'-'.join(['a', 'b'])`;
- only when the caller passes them, classes the program defines (`Point(1, 2)`, `Color.RED`).

Everything else is refused: names of anything else, other method calls, subscripts,
attributes of values, comprehensions, lambdas, conditionals, comparisons, `:=`, f-strings.

Without program classes nothing here runs any code but the constructors' and operators' of
built-in and standard-library types on values built here, so the trusted process evaluates
such answers itself (`azr_env.executor.checks`). With program classes the evaluation happens
in a sandbox where the program was loaded.
"""

from __future__ import annotations

import ast
import decimal
import operator
import re
import sys
from collections import Counter, OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

from .codec import _FACTORIES


class AnswerRefused(ValueError):
    """An answer that is not a value. `reason`: `not_a_value` (a form outside the allowlist),
    `bad_answer` (not an expression, or its evaluation failed, e.g. `Fraction(1, 0)`),
    `answer_too_large` (over the size limits)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


CONSTRUCTORS: dict[str, type] = {
    cls.__name__: cls
    for cls in (set, frozenset, list, tuple, dict, int, float, complex, str, bool, bytes,
                bytearray, range, Fraction, Decimal, Counter, OrderedDict, defaultdict, deque)
}
"""The callables an answer may name: types of values, whose constructors run no code of the
program's (given arguments that are values built by this module)."""

MODULE_PATHS: dict[str, Any] = {
    "collections.Counter": Counter, "collections.OrderedDict": OrderedDict,
    "collections.defaultdict": defaultdict, "collections.deque": deque,
    "fractions.Fraction": Fraction, "decimal.Decimal": Decimal,
    "math.inf": float("inf"), "math.nan": float("nan"),
}
"""Dotted names an answer may use for the same constructors (and the two float constants)."""

TEXT_METHODS: frozenset[str] = frozenset({
    "join", "split", "rsplit", "splitlines", "partition", "rpartition", "strip", "lstrip",
    "rstrip", "removeprefix", "removesuffix", "upper", "lower", "title", "capitalize",
    "swapcase", "casefold", "replace", "encode", "decode",
})
"""Methods an answer may call on a str or bytes value (CRUXEval's inputs use `''.join(...)`,
`'...'.split('-')`, `'$78'.upper()`): built-in code on values built here, whose results are no
larger than their inputs, except `replace`, whose result size is checked first."""

_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert,
    ast.Not: operator.not_,
}
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
    ast.BitOr: operator.or_, ast.BitXor: operator.xor, ast.BitAnd: operator.and_,
}
_EXPANDING = (list, tuple, set, frozenset, dict, Counter, OrderedDict, defaultdict, deque, bytes,
              bytearray)
_HASH_MODULUS = sys.hash_info.modulus  # ints that differ by a multiple of it hash alike
_MAX_COLLIDING = 64
_FRACTION_EXPONENT = re.compile(r"[eE][+-]?\d{5,}")


class Limits:
    """How large an answer may be, derived from the output cap.

    A right answer equals a gold value whose repr fits in `max_output_chars`, so it has at most
    that many parts, and its numbers and texts are that short: anything much larger cannot be
    right, and is refused before it costs anything.
    """

    __slots__ = ("max_ast_nodes", "max_depth", "max_int_bits", "max_items", "max_text",
                 "max_units")

    def __init__(self, max_output_chars: int) -> None:
        self.max_items = max_output_chars + 1
        self.max_units = 4 * max_output_chars + 64
        self.max_int_bits = 16 * max_output_chars + 256
        self.max_text = 8 * max_output_chars + 1000
        self.max_ast_nodes = 4 * max_output_chars + 200
        self.max_depth = 100


def program_class_names(program: str | None) -> frozenset[str]:
    """Names of the classes a program defines at its top level (parsed, never run)."""
    if not program:
        return frozenset()
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return frozenset()
    return frozenset(node.name for node in tree.body if isinstance(node, ast.ClassDef))


def parse_expression(text: str, limits: Limits) -> ast.expr:
    """The expression of answer text, or `AnswerRefused` (too long, not an expression)."""
    # Newlines around the text keep a trailing comment in it from swallowing the bracket.
    return _parse(text, limits, "(\n{}\n)").body


def parse_arguments(text: str, limits: Limits) -> ast.Call:
    """Call-argument text such as `[1, 2], key='v'`, parsed as the call `_(<text>)`."""
    call = _parse(text, limits, "_(\n{}\n)").body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or call.func.id != "_":
        raise AnswerRefused("bad_answer", "the input must be call arguments")
    return call


def _parse(text: str, limits: Limits, template: str) -> ast.Expression:
    if len(text) > limits.max_text:
        raise AnswerRefused("answer_too_large", f"the answer is over {limits.max_text} characters")
    try:
        tree = ast.parse(template.format(text), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
        raise AnswerRefused("bad_answer",
                            f"the answer is not an expression: {type(exc).__name__}") \
            from None
    for count, _ in enumerate(ast.walk(tree)):
        if count >= limits.max_ast_nodes:
            raise AnswerRefused("answer_too_large", "the answer has too many parts")
    return tree


def names_in(node: ast.AST) -> set[str]:
    """Every plain name an expression mentions."""
    return {part.id for part in ast.walk(node) if isinstance(part, ast.Name)}


def evaluate(node: ast.expr, limits: Limits, classes: Mapping[str, type] | None = None) -> Any:
    """The value an answer expression describes, or `AnswerRefused`.

    `classes` are the program's own classes (a sandbox only): they may be called on values and
    their attributes read (`Color.RED`).
    """
    return _Evaluator(limits, classes or {}).run(lambda ev: ev.value(node, 0))


def evaluate_arguments(call: ast.Call, limits: Limits, classes: Mapping[str, type] | None = None
                       ) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments that call-argument text describes."""
    return _Evaluator(limits, classes or {}).run(lambda ev: ev.arguments(call, 0))  # type: ignore[no-any-return]


def _refuse(node: ast.AST) -> AnswerRefused:
    what = type(node).__name__
    return AnswerRefused("not_a_value", f"an answer must be a value, not a computation: {what} is "
                                        "not allowed in it (only literals, containers, arithmetic "
                                        "and value constructors such as set, float or Fraction)")


class _Evaluator:
    """One evaluation: the limits, the program's classes, and the walk itself."""

    def __init__(self, limits: Limits, classes: Mapping[str, type]) -> None:
        self.limits = limits
        self.classes = classes

    def run(self, action: Callable[[_Evaluator], Any]) -> Any:
        # A fresh default context: the same arithmetic as in a fresh interpreter, whatever the
        # calling thread's context was set to.
        try:
            with decimal.localcontext(decimal.Context()):
                value = action(self)
            self.measure(value)
            return value
        except AnswerRefused:
            raise
        except Exception as exc:  # what a value's own constructor or operator raised
            raise AnswerRefused("bad_answer", f"evaluating the answer failed: "
                                              f"{type(exc).__name__}: {str(exc)[:200]}") from None

    # -- expressions ---------------------------------------------------------------------------
    def value(self, node: ast.expr, depth: int) -> Any:
        if depth > self.limits.max_depth:
            raise AnswerRefused("answer_too_large", "the answer is nested too deeply")
        depth += 1
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = self.items(node.elts, depth)
            return list(items) if isinstance(node, ast.List) else tuple(items) \
                if isinstance(node, ast.Tuple) else set(items)
        if isinstance(node, ast.Dict):
            return self.display_dict(node, depth)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            operand = self.value(node.operand, depth)
            if isinstance(node.op, ast.Invert) and isinstance(operand, bool):
                raise _refuse(node)  # `~True` is deprecated arithmetic on a bool
            return _UNARY[type(node.op)](operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = self.value(node.left, depth), self.value(node.right, depth)
            self.check_operation(node.op, left, right)
            return self.measured(_BINARY[type(node.op)](left, right))
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        raise _refuse(node)

    def items(self, nodes: Iterable[ast.expr], depth: int) -> list[Any]:
        out: list[Any] = []
        for node in nodes:
            if isinstance(node, ast.Starred):
                iterable = self.value(node.value, depth)
                self.check_expansion(iterable)
                out.extend(iterable)
            else:
                out.append(self.value(node, depth))
            if len(out) > self.limits.max_items:
                raise AnswerRefused("answer_too_large", "the answer has too many items")
        return out

    def display_dict(self, node: ast.Dict, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key, item in zip(node.keys, node.values, strict=True):
            if key is None:  # `**mapping`
                mapping = self.value(item, depth)
                if not isinstance(mapping, dict):
                    raise AnswerRefused("bad_answer", "** in a dict display needs a dict")
                out.update(mapping)
            else:
                out[self.value(key, depth)] = self.value(item, depth)
        return out

    def arguments(self, call: ast.Call, depth: int) -> tuple[list[Any], dict[str, Any]]:
        args = self.items(call.args, depth)
        kwargs: dict[str, Any] = {}
        for keyword in call.keywords:
            if keyword.arg is None:  # `**mapping`
                mapping = self.value(keyword.value, depth)
                if not isinstance(mapping, dict) or not all(isinstance(k, str) for k in mapping):
                    raise AnswerRefused("bad_answer", "** in arguments needs a dict of str keys")
                kwargs.update(mapping)
            else:
                kwargs[keyword.arg] = self.value(keyword.value, depth)
        return args, kwargs

    def callee(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name):
            if node.id in self.classes:  # a program's own `deque` class is the one it returns
                return self.classes[node.id]
            if node.id in CONSTRUCTORS:
                return CONSTRUCTORS[node.id]
        elif isinstance(node, ast.Attribute):
            found = MODULE_PATHS.get(dotted_name(node) or "")
            if isinstance(found, type):
                return found
        raise AnswerRefused("not_a_value", "an answer must be a value, not a computation: only "
                                           "value constructors such as set, float or Fraction "
                                           "(and the program's own classes) may be called in it")

    def call(self, node: ast.Call, depth: int) -> Any:
        if (
            isinstance(node.func, ast.Attribute)
            and dotted_name(node.func) not in MODULE_PATHS
            and not (isinstance(node.func.value, ast.Name) and node.func.value.id in self.classes)
        ):
            return self.text_method(node, depth)
        target = self.callee(node.func)
        if target is defaultdict and node.args and _is_factory_name(node.args[0]):
            first = node.args[0]
            factory = None if isinstance(first, ast.Constant) else _FACTORIES[first.id]  # type: ignore[attr-defined]
            rest = ast.Call(func=node.func, args=node.args[1:], keywords=node.keywords)
            args, kwargs = self.arguments(rest, depth)
            return self.measured(defaultdict(factory, *args, **kwargs))
        args, kwargs = self.arguments(node, depth)
        if target in _EXPANDING:
            for arg in args:
                self.check_expansion(arg)
            if target in (bytes, bytearray) and args and isinstance(args[0], int):
                self.check_count(args[0])
        if target in (int, Fraction):
            for arg in args:
                self.check_conversion(arg)
        return self.measured(target(*args, **kwargs))

    def text_method(self, node: ast.Call, depth: int) -> Any:
        """`'-'.join(['a', 'b'])`, `'A B'.split()`: a few methods of a text value built here."""
        func = node.func
        assert isinstance(func, ast.Attribute)
        receiver = self.value(func.value, depth)
        if type(receiver) not in (str, bytes) or func.attr not in TEXT_METHODS:
            raise AnswerRefused(
                "not_a_value",
                "an answer must be a value, not a computation: "
                "methods may be called only on str and bytes "
                f"values, and only {', '.join(sorted(TEXT_METHODS))}",
            )
        args, kwargs = self.arguments(node, depth)
        if func.attr == "replace":
            new = args[1] if len(args) > 1 else kwargs.get("new", "")
            self.check_count((len(receiver) + 1) * max(len(new), 1) // 4)
        return self.measured(getattr(receiver, func.attr)(*args, **kwargs))

    def attribute(self, node: ast.Attribute) -> Any:
        dotted = dotted_name(node)
        if dotted in MODULE_PATHS and not isinstance(MODULE_PATHS[dotted], type):
            return MODULE_PATHS[dotted]
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value  # type: ignore[assignment]
        if dotted is not None and isinstance(root, ast.Name) and root.id in self.classes:
            value: Any = self.classes[root.id]
            for name in dotted.split(".")[1:]:
                value = getattr(value, name)  # e.g. an Enum member: `Color.RED`
            return value
        raise _refuse(node)

    # -- limits --------------------------------------------------------------------------------
    def check_count(self, count: int) -> None:
        if count > self.limits.max_items:
            raise AnswerRefused("answer_too_large",
                                f"{count} items is more than any right answer has")

    def check_expansion(self, iterable: Any) -> None:
        """A range (the one value that is small and iterates long) may only expand so far, and
        not into ints that all share one hash (a set of them costs quadratic time to build)."""
        if isinstance(iterable, range):
            try:
                self.check_count(len(iterable))
            except OverflowError:
                raise AnswerRefused("answer_too_large", "the range is far too long") from None
            if len(iterable) > _MAX_COLLIDING and iterable.step % _HASH_MODULUS == 0:
                raise AnswerRefused("answer_too_large", "the range's members all share one hash")

    def check_conversion(self, value: Any) -> None:
        """Decimals and texts with huge exponents become huge ints (`int(Decimal('1e999999'))`)."""
        if isinstance(value, Decimal) and value.is_finite() \
                and abs(value.adjusted()) * 4 > self.limits.max_int_bits:
            raise AnswerRefused("answer_too_large", "the number is too large")
        if isinstance(value, str) and _FRACTION_EXPONENT.search(value):
            raise AnswerRefused("answer_too_large", "the number is too large")

    def check_operation(self, op: ast.operator, left: Any, right: Any) -> None:
        """Refuse an operation whose result is bound to be too large, before computing it."""
        bits = self.limits.max_int_bits
        if isinstance(op, ast.Pow) and _is_int(right) and abs(right) > 1:
            base = _magnitude_bits(left)
            if base is not None and base * abs(right) > bits:
                raise AnswerRefused("answer_too_large", "the power is too large")
        elif isinstance(op, ast.LShift) and _is_int(left) and _is_int(right) \
                and left.bit_length() + right > bits:
            raise AnswerRefused("answer_too_large", "the shifted number is too large")
        elif isinstance(op, ast.Mult):
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, bytes, bytearray, list, tuple, deque)) and _is_int(
                    count
                ):
                    self.check_count(max(count, 0) * max(len(sequence), 1) // 4)
        elif isinstance(op, ast.Mod) and isinstance(left, (str, bytes, bytearray)):
            raise AnswerRefused("not_a_value", "an answer must be a value: %-formatting is a "
                                               "computation")

    def measured(self, value: Any) -> Any:
        self.measure(value)
        return value

    def measure(self, value: Any) -> None:
        """Refuse a value larger than any right answer (counting shared parts every time)."""
        budget = self.limits.max_units
        bits = self.limits.max_int_bits
        pending = [value]
        while pending:
            item = pending.pop()
            budget -= 1
            if isinstance(item, (str, bytes, bytearray)):
                budget -= len(item)
            elif _is_int(item) or isinstance(item, Fraction):
                if (_magnitude_bits(item) or 0) > bits:
                    raise AnswerRefused("answer_too_large", "a number in the answer is too large")
            elif isinstance(item, dict):
                budget -= len(item)
                pending.extend(item.keys())
                pending.extend(item.values())
            elif isinstance(item, (list, tuple, set, frozenset, deque)):
                budget -= len(item)
                pending.extend(item)
            if budget < 0:
                raise AnswerRefused("answer_too_large", "the answer is larger than any right "
                                                        "answer can be")


def dotted_name(node: ast.expr) -> str | None:
    """`a.b.c` for an attribute chain rooted at a plain name, else None (also used by the
    trusted side's banned-name check, `azr_env.tasks.program`)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _is_factory_name(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id in _FACTORIES) or \
        (isinstance(node, ast.Constant) and node.value is None)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _magnitude_bits(value: Any) -> int | None:
    """Bits of an int or of a Fraction's larger part; None for other values."""
    if _is_int(value):
        return int(value.bit_length())
    if isinstance(value, Fraction):
        return max(value.numerator.bit_length(), value.denominator.bit_length())
    return None
