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
        return type(other) is Opaque and (self.type_name, self.repr) == (other.type_name, other.repr)

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


def decode(tree: Any) -> Any:
    """Rebuild a value from `encode`'s tree using only constructors of built-in types."""
    try:
        return _decode(tree, 0)
    except DecodeError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, RecursionError) as exc:
        raise DecodeError(f"malformed value tree: {type(exc).__name__}: {exc}") from None


def _decode_float(text: str) -> float:
    value = float(text)
    return NAN if math.isnan(value) else value


def _decode(tree: Any, depth: int) -> Any:
    if not isinstance(tree, list) or not tree or depth > MAX_DEPTH + 2:
        raise DecodeError("malformed value tree")
    tag = tree[0]

    def sub(item: Any) -> Any:
        return _decode(item, depth + 1)

    if tag == "none":
        return None
    if tag == "bool":
        return bool(tree[1])
    if tag == "int":
        return int(tree[1], 16)
    if tag == "float":
        return _decode_float(tree[1])
    if tag == "complex":
        return complex(_decode_float(tree[1]), _decode_float(tree[2]))
    if tag == "str":
        if not isinstance(tree[1], str):
            raise DecodeError("str payload is not a string")
        return tree[1]
    if tag == "bytes":
        return bytes.fromhex(tree[1])
    if tag == "bytearray":
        return bytearray.fromhex(tree[1])
    if tag == "Fraction":
        return Fraction(int(tree[1], 16), int(tree[2], 16))
    if tag == "Decimal":
        return Decimal(tree[1])
    if tag == "range":
        return range(int(tree[1], 16), int(tree[2], 16), int(tree[3], 16))
    if tag == "opaque":
        return Opaque(str(tree[1]), str(tree[2]))
    if tag in ("list", "tuple", "set", "frozenset"):
        items = [sub(item) for item in tree[1]]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "deque":
        return deque([sub(item) for item in tree[1]], tree[2])
    if tag == "defaultdict":
        factory = _FACTORIES.get(tree[1]) if tree[1] is not None else None
        return defaultdict(factory, [(sub(k), sub(v)) for k, v in tree[2]])
    if tag in ("dict", "OrderedDict", "Counter"):
        pairs = [(sub(k), sub(v)) for k, v in tree[1]]
        return {"dict": dict, "OrderedDict": OrderedDict, "Counter": Counter}[tag](pairs)
    raise DecodeError(f"unknown tag {tag!r}")


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
    """True when a tree holds any opaque value (so it cannot be rebuilt as plain data)."""
    if not isinstance(tree, list) or not tree:
        return False
    if tree[0] == "opaque":
        return True
    return any(contains_opaque(part) for part in _children(tree))


def _children(tree: Tree) -> list[Any]:
    tag = tree[0]
    if tag in ("list", "tuple", "set", "frozenset", "deque"):
        return list(tree[1])
    if tag in ("dict", "OrderedDict", "Counter"):
        return [node for pair in tree[1] for node in pair]
    if tag == "defaultdict":
        return [node for pair in tree[2] for node in pair]
    if tag == "call_args":
        return list(tree[1]) + [node for _, node in tree[2]]
    return []
