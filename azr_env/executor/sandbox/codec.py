"""Structural encoding of Python values, so that no result is ever `eval`ed outside the sandbox.

Values produced by model-written code are turned, inside the sandbox, into a small tagged tree of
JSON types (`encode`). The trusted process rebuilds plain Python values from that tree with
nothing but constructors of built-in types (`decode`) and compares them with Python semantics
(`values_equal`). Objects of other types (user classes, named tuples, subclasses of built-ins)
travel as `Opaque(type name, repr)`: equal when both their type and their repr are equal.

Exact type checks (`type(x) is int`, never `isinstance`) keep untrusted `__eq__`, `__iter__` or
`__hash__` overrides out of the encoder: only `__repr__` of opaque objects is ever called.

This module is imported both by the sandbox (under its own package name, stdlib only) and by the
trusted process; it must stay free of imports outside the standard library.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict, defaultdict, deque
from decimal import Decimal
from fractions import Fraction
from typing import Any

MAX_DEPTH = 100
"""Deeper nesting than this is encoded as opaque: real task outputs are far shallower."""

MAX_OPAQUE_REPR = 2000
"""An opaque object's repr is cut to this many characters (the whole output has its own cap)."""

NAN: float = float("nan")
"""The single NaN every decoded NaN becomes: containers compare members by identity first, so
`[nan] == [nan]` holds for decoded values, which is what a solver who predicts NaN expects."""

Tree = list[Any]


class Opaque:
    """A value the codec does not rebuild: equal to another Opaque of the same type and repr.

    A plain class rather than a dataclass: the sandbox imports this module, and dataclasses pulls
    in `inspect` and friends, which grow every job process's fork and exit cost.
    """

    __slots__ = ("repr", "type_name")

    def __init__(self, type_name: str, repr: str) -> None:
        self.type_name = type_name
        self.repr = repr

    def __eq__(self, other: object) -> bool:
        return type(other) is Opaque and (self.type_name, self.repr) == (
            other.type_name,
            other.repr,
        )

    def __hash__(self) -> int:
        return hash((Opaque, self.type_name, self.repr))

    def __repr__(self) -> str:
        return self.repr


class EncodeError(ValueError):
    """Raised when a value cannot be encoded (cycles, or an opaque repr that itself fails)."""


_FACTORIES: dict[str, Any] = {
    name: factory
    for name, factory in (
        ("int", int), ("float", float), ("str", str), ("bool", bool), ("list", list),
        ("dict", dict), ("set", set), ("tuple", tuple), ("frozenset", frozenset),
        ("bytes", bytes),
    )
}


def _type_name(obj: object) -> str:
    cls = type(obj)
    module = getattr(cls, "__module__", None) or "?"
    return f"{module}.{getattr(cls, '__qualname__', cls.__name__)}"


def _opaque(obj: object) -> Tree:
    try:
        text = repr(obj)
    except BaseException as exc:
        raise EncodeError(f"repr of {type(obj).__name__} failed: {type(exc).__name__}") from None
    if not isinstance(text, str):
        raise EncodeError("repr did not return a string")
    return ["opaque", _type_name(obj), text[:MAX_OPAQUE_REPR]]


def _float_text(x: float) -> str:
    return "nan" if math.isnan(x) else repr(x)


def encode(obj: object) -> Tree:
    """Encode `obj` into a tagged JSON-compatible tree; raises `EncodeError` on cycles."""
    return _encode(obj, 0, set())


def _encode(obj: object, depth: int, active: set[int]) -> Tree:
    cls = type(obj)
    if obj is None:
        return ["none"]
    if cls is bool:
        return ["bool", obj]
    if cls is int:
        return ["int", hex(obj)]  # type: ignore[arg-type]
    if cls is float:
        return ["float", _float_text(obj)]  # type: ignore[arg-type]
    if cls is complex:
        return ["complex", _float_text(obj.real), _float_text(obj.imag)]  # type: ignore[attr-defined]
    if cls is str:
        return ["str", obj]
    if cls is bytes or cls is bytearray:
        return [cls.__name__, obj.hex()]  # type: ignore[attr-defined]
    if cls is Fraction:
        return ["Fraction", hex(obj.numerator), hex(obj.denominator)]  # type: ignore[attr-defined]
    if cls is Decimal:
        return ["Decimal", str(obj)]
    if cls is range:
        return ["range", hex(obj.start), hex(obj.stop), hex(obj.step)]  # type: ignore[attr-defined]
    if depth >= MAX_DEPTH:
        return _opaque(obj)
    container = cls in (list, tuple, set, frozenset, dict, OrderedDict, defaultdict, Counter, deque)
    if not container:
        return _opaque(obj)
    if id(obj) in active:
        raise EncodeError("value contains itself (a recursive structure)")
    active.add(id(obj))
    try:
        return _encode_container(obj, cls, depth + 1, active)
    finally:
        active.discard(id(obj))


def _encode_container(obj: Any, cls: type, depth: int, active: set[int]) -> Tree:
    def enc(item: object) -> Tree:
        return _encode(item, depth, active)

    if cls in (list, tuple, set, frozenset):
        # Iterating the built-in type's own method keeps overrides out (exact type checked above).
        return [cls.__name__, [enc(item) for item in obj]]
    if cls is deque:
        return ["deque", [enc(item) for item in obj], obj.maxlen]
    items = [[enc(k), enc(v)] for k, v in dict.items(obj)]
    if cls is defaultdict:
        factory = obj.default_factory
        name = factory.__name__ if factory in _FACTORIES.values() else None
        return ["defaultdict", name, items]
    return [cls.__name__, items]


class DecodeError(ValueError):
    """Raised for a tree that no sandbox would produce (a bug, or a forged result)."""


MAX_DECODE_UNITS = 200_000
"""Default cost budget of one `decode`: one unit per node plus one per character of its texts.

Every step of decoding is linear in these units except building sets and dict keys, which
Python makes quadratic when the hashes collide (ints are easy to collide on purpose). Results
read from a sandbox are first bounded by the output cap (`executor/render.py`), far below this;
the default only bounds callers that decode trees from elsewhere (buffer files)."""

MAX_INT_HEX_DIGITS = 20_000
"""Longest int accepted (80,000 bits, about 24,000 decimal digits): Fraction's gcd and decimal
conversion are quadratic, so a forged 1 MiB int would cost seconds; honest values are bounded by
the output cap (1,000 characters by default) long before this."""

MAX_FLOAT_TEXT = 64
"""A float's text (`repr` is at most 24 characters; `inf`, `nan`)."""

MAX_TYPE_NAME = 1000
"""An opaque value's type name (`module.qualname`)."""

_MAX_DEQUE_LEN = (1 << 63) - 1
_HEX_DIGITS = frozenset("0123456789abcdef")


class _Budget:
    """What is left of a decode's cost budget (see `MAX_DECODE_UNITS`)."""

    __slots__ = ("left",)

    def __init__(self, units: int) -> None:
        self.left = units

    def spend(self, units: int) -> None:
        self.left -= units
        if self.left < 0:
            raise DecodeError("value tree too large")


def decode(tree: Any, max_units: int = MAX_DECODE_UNITS) -> Any:
    """Rebuild a value from `encode`'s tree using only constructors of built-in types.

    The tree may be forged: whatever it holds, this either returns a value, in time linear in
    the tree's size bounded by `max_units` (see `MAX_DECODE_UNITS`), or raises `DecodeError`;
    never any other exception.
    """
    try:
        return _decode(tree, 0, _Budget(max_units))
    except DecodeError:
        raise
    except (Exception, RecursionError) as exc:
        raise DecodeError(f"malformed value tree: {type(exc).__name__}") from None


def _text(node: Any, budget: _Budget, limit: int | None = None) -> str:
    if type(node) is not str:
        raise DecodeError("expected a string in the value tree")
    if limit is not None and len(node) > limit:
        raise DecodeError("text too long in the value tree")
    budget.spend(len(node))
    return node


def decode_int(node: Any, budget: _Budget | None = None) -> int:
    """An int from `hex()` text (`-0x1f`), refusing anything longer than `MAX_INT_HEX_DIGITS`."""
    text = _text(node, budget or _Budget(MAX_INT_HEX_DIGITS + 3), MAX_INT_HEX_DIGITS + 3)
    digits = text[3:] if text.startswith("-0x") else text[2:] if text.startswith("0x") else ""
    if not digits or not _HEX_DIGITS.issuperset(digits):
        raise DecodeError("malformed int in the value tree")
    return int(text, 16)


def _decode_float(node: Any, budget: _Budget) -> float:
    value = float(_text(node, budget, MAX_FLOAT_TEXT))
    return NAN if math.isnan(value) else value


def _items(node: Any, budget: _Budget) -> list[Any]:
    if type(node) is not list:
        raise DecodeError("expected a list of items in the value tree")
    budget.spend(len(node))
    return node


def _pairs(node: Any, budget: _Budget) -> list[list[Any]]:
    pairs = _items(node, budget)
    if not all(type(pair) is list and len(pair) == 2 for pair in pairs):
        raise DecodeError("expected key-value pairs in the value tree")
    return pairs


def _shape(tree: Any, size: int) -> None:
    if len(tree) != size:
        raise DecodeError(f"a {tree[0]!r} node has {len(tree)} fields, not {size}")


def _decode(tree: Any, depth: int, budget: _Budget) -> Any:
    if type(tree) is not list or not tree or depth > MAX_DEPTH + 2:
        raise DecodeError("malformed value tree")
    budget.spend(1)
    tag = tree[0]
    scalar = _SCALARS.get(tag) if type(tag) is str else None
    if scalar is not None:
        size, build = scalar
        _shape(tree, size)
        return build(tree, budget)

    def sub(item: Any) -> Any:
        return _decode(item, depth + 1, budget)

    if tag in ("list", "tuple", "set", "frozenset"):
        _shape(tree, 2)
        items = [sub(item) for item in _items(tree[1], budget)]
        built = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
        return _unique(built, items) if tag in ("set", "frozenset") else built
    if tag == "deque":
        _shape(tree, 3)
        items, maxlen = _items(tree[1], budget), tree[2]
        if maxlen is not None and (
            type(maxlen) is not int or not len(items) <= maxlen <= _MAX_DEQUE_LEN
        ):
            raise DecodeError("malformed deque maxlen in the value tree")
        return deque([sub(item) for item in items], maxlen)
    if tag == "defaultdict":
        _shape(tree, 3)
        if tree[1] is not None and tree[1] not in _FACTORIES:
            raise DecodeError("unknown defaultdict factory in the value tree")
        factory = _FACTORIES[tree[1]] if tree[1] is not None else None
        pairs = [(sub(k), sub(v)) for k, v in _pairs(tree[2], budget)]
        return _unique(defaultdict(factory, pairs), [k for k, _ in pairs])
    if tag in ("dict", "OrderedDict", "Counter"):
        _shape(tree, 2)
        pairs = [(sub(k), sub(v)) for k, v in _pairs(tree[1], budget)]
        mapping = _unique(dict(pairs), [k for k, _ in pairs])
        # Counter(pairs) would count the pairs themselves as elements: build it from a mapping.
        return {"dict": dict, "OrderedDict": OrderedDict, "Counter": Counter}[tag](mapping)
    raise DecodeError(f"unknown tag {str(tag)[:40]!r}")


def _unique(built: Any, members: list[Any]) -> Any:
    """`built` if it kept every member: a sandbox never lists a set member or dict key twice, so
    a duplicate is forged (its text would show a value other than the one compared). NaNs are
    the exception: distinct NaNs in the sandbox all decode to the one `NAN`."""
    if len(built) != len(members) and not any(member is NAN for member in members):
        raise DecodeError("a set member or dict key is listed twice in the value tree")
    return built


def decode_call_args(
    tree: Any, max_units: int = MAX_DECODE_UNITS
) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments of a `call_args` tree (`["call_args", [arg trees],
    [[name, tree], ...]]`), with `decode`'s bounds and its one exception, `DecodeError`."""
    if type(tree) is not list or len(tree) != 3 or tree[0] != "call_args" \
            or type(tree[1]) is not list or type(tree[2]) is not list:
        raise DecodeError("malformed call_args tree")
    keywords = tree[2]
    if not all(type(kw) is list and len(kw) == 2 and type(kw[0]) is str and kw[0].isidentifier()
               for kw in keywords):
        raise DecodeError("malformed keyword argument in a call_args tree")
    if len({name for name, _ in keywords}) != len(keywords):
        raise DecodeError("a keyword argument is given twice in a call_args tree")
    values = decode(["tuple", tree[1] + [node for _, node in keywords]], max_units)
    split = len(tree[1])
    return list(values[:split]), {
        name: value for (name, _), value in zip(keywords, values[split:], strict=True)
    }


def _decode_fraction(tree: Tree, budget: _Budget) -> Fraction:
    numerator, denominator = decode_int(tree[1], budget), decode_int(tree[2], budget)
    if denominator == 0:
        raise DecodeError("Fraction with denominator 0 in the value tree")
    return Fraction(numerator, denominator)


def _decode_range(tree: Tree, budget: _Budget) -> range:
    start, stop, step = (decode_int(node, budget) for node in tree[1:])
    if step == 0:
        raise DecodeError("range with step 0 in the value tree")
    return range(start, stop, step)


_DECIMAL_NANS = {text: Decimal(text) for text in ("NaN", "-NaN")}
"""Like `NAN`: every decoded quiet Decimal NaN is one object, so that containers holding one
compare equal (by identity) as they do for float NaNs."""


def _decode_decimal(node: Any, budget: _Budget) -> Decimal:
    text = _text(node, budget)
    return _DECIMAL_NANS.get(text) or Decimal(text)


def _decode_bool(tree: Tree, budget: _Budget) -> bool:
    if type(tree[1]) is not bool:
        raise DecodeError("bool payload is not a boolean")
    return tree[1]


_SCALARS: dict[str, tuple[int, Any]] = {
    "none": (1, lambda tree, budget: None),
    "bool": (2, _decode_bool),
    "int": (2, lambda tree, budget: decode_int(tree[1], budget)),
    "float": (2, lambda tree, budget: _decode_float(tree[1], budget)),
    "complex": (3, lambda tree, budget: complex(_decode_float(tree[1], budget),
                                                _decode_float(tree[2], budget))),
    "str": (2, lambda tree, budget: _text(tree[1], budget)),
    "bytes": (2, lambda tree, budget: bytes.fromhex(_text(tree[1], budget))),
    "bytearray": (2, lambda tree, budget: bytearray.fromhex(_text(tree[1], budget))),
    "Fraction": (3, _decode_fraction),
    "Decimal": (2, lambda tree, budget: _decode_decimal(tree[1], budget)),
    "range": (4, _decode_range),
    "opaque": (3, lambda tree, budget: Opaque(_text(tree[1], budget, MAX_TYPE_NAME),
                                              _text(tree[2], budget))),
}
"""Leaf tags: (fields in the node, builder)."""


def values_equal(a: Any, b: Any) -> bool:
    """Python `==` on decoded values, with NaN equal to NaN at every depth.

    Decoded NaNs are all the one `NAN` object, and containers compare members by identity first,
    so only a bare top-level NaN needs the `is` check. Comparisons between decoded values cannot
    run untrusted code; the guard only protects against exotic mixes (e.g. Decimal signalling).
    """
    try:
        return a is b or bool(a == b)
    except (TypeError, ValueError, ArithmeticError):
        return False


def trees_equal(a: Any, b: Any) -> bool:
    """Decode two trees and compare them as values; a malformed tree is never equal."""
    try:
        return values_equal(decode(a), decode(b))
    except DecodeError:
        return False


def contains_opaque(tree: Any) -> bool:
    """True when a tree holds any opaque value (so it cannot be rebuilt as plain data).

    Iterative, so that a forged tree of any depth cannot exhaust the stack.
    """
    pending = [tree]
    while pending:
        node = pending.pop()
        if not isinstance(node, list) or not node:
            continue
        if node[0] == "opaque":
            return True
        pending.extend(_children(node))
    return False


def _children(tree: Tree) -> list[Any]:
    tag = tree[0]
    try:
        if tag in ("list", "tuple", "set", "frozenset", "deque"):
            return list(tree[1])
        if tag in ("dict", "OrderedDict", "Counter"):
            return [node for pair in tree[1] for node in pair]
        if tag == "defaultdict":
            return [node for pair in tree[2] for node in pair]
        if tag == "call_args":
            return list(tree[1]) + [node for _, node in tree[2]]
    except (IndexError, TypeError, ValueError):
        return []
    return []
