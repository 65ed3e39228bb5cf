"""The text of a value, re-derived in the trusted process from its value tree.

A sandbox sends each value twice: as a tree (`sandbox/codec.py`) and as its `repr`. Only the
tree is trusted, and only after it was read within bounds; the `repr` is whatever the job chose
to write (a forged frame can pair a 300,000-character text with the tree of `0`). So the text
that reaches logs, `info`, prompts and task buffers is rebuilt here from the tree: the same text
Python's `repr` gives for the decoded value, with set elements in the order the sandbox listed
them (the sandbox's hash seed is fixed, the trusted process's is not, so this keeps prompts the
same from run to run).

Rendering stops as soon as the text passes the output cap, so its cost is bounded by the cap,
whatever the tree holds: every node adds at least one character or one unit of node count, and
numbers are only converted to decimal once their hex length shows they can fit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from .sandbox.codec import (
    _FACTORIES,
    MAX_DEPTH,
    MAX_FLOAT_TEXT,
    MAX_TYPE_NAME,
    NAN,
    DecodeError,
    decode,
    decode_int,
)

_HEX_DIGITS_PER_DECIMAL = 1.2041  # log10(16): n hex digits make at least 1.2 * (n - 1) decimal ones
_SOURCE_HEX_DIGITS = 3000  # past ~3,600 decimal digits, source text writes ints in hex
_ORDERED_DICT_REPR_IS_DICT = sys.version_info >= (3, 12)  # OrderedDict({...}) from 3.12 on


class OutputTooLong(DecodeError):
    """The value's text is longer than the output cap (as the sandbox itself reports it)."""


class _Writer:
    """The text so far, and the cap it must stay within."""

    __slots__ = ("left", "nodes_left", "parts", "source")

    def __init__(self, max_chars: int, source: bool = False) -> None:
        self.source = source  # write an expression that rebuilds the value, not its repr
        self.parts: list[str] = []
        self.left = max_chars
        self.nodes_left = max_chars + 1  # every node but a lone empty opaque repr shows a character

    def room(self, chars: int) -> None:
        """Refuse before building a piece of text that cannot fit."""
        if chars > self.left:
            raise OutputTooLong("the value's text is longer than the output cap")

    def write(self, text: str) -> None:
        self.room(len(text))
        self.left -= len(text)
        self.parts.append(text)

    def node(self) -> None:
        self.nodes_left -= 1
        if self.nodes_left < 0:
            raise OutputTooLong("the value has more parts than the output cap allows")


def render(tree: Any, max_chars: int) -> str:
    """Python's `repr` of the value `tree` encodes, or `OutputTooLong` / `DecodeError`.

    `call_args` trees (an abduction answer's arguments) render as call arguments: `1, 'a', k=2`.
    Never raises anything but `DecodeError` (of which `OutputTooLong` is one).
    """
    return _write(tree, _Writer(max_chars))


def render_source(tree: Any, max_chars: int) -> str:
    """Source text that rebuilds the plain-data value `tree` encodes: its repr, except where a
    repr is no expression (`float('nan')`, `defaultdict(int, {...})`). It uses literals and the
    names of `answers.CONSTRUCTORS` only, and opaque values are refused (`DecodeError`).

    Abduction answers and proposers' inputs are sent to the program in this one form, so that
    the program sees the same kind of job when its gold is made and when an answer is checked.
    """
    return _write(tree, _Writer(max_chars, source=True))


def _write(tree: Any, writer: _Writer) -> str:
    try:
        if type(tree) is list and tree and tree[0] == "call_args":
            _call_args(tree, writer)
        else:
            _render(tree, 0, writer)
    except DecodeError:
        raise
    except Exception as exc:
        raise DecodeError(f"malformed value tree: {type(exc).__name__}") from None
    return "".join(writer.parts)


def _call_args(tree: list[Any], writer: _Writer) -> None:
    if len(tree) != 3 or type(tree[1]) is not list or type(tree[2]) is not list:
        raise DecodeError("malformed call_args tree")
    parts: list[tuple[str | None, Any]] = [(None, node) for node in tree[1]]
    for pair in tree[2]:
        if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str \
                or not pair[0].isidentifier():
            raise DecodeError("malformed keyword argument in a call_args tree")
        parts.append((pair[0], pair[1]))
    for number, (name, node) in enumerate(parts):
        if number:
            writer.write(", ")
        if name is not None:
            writer.write(f"{name}=")
        _render(node, 1, writer)


def _render(tree: Any, depth: int, writer: _Writer) -> None:
    if type(tree) is not list or not tree or type(tree[0]) is not str or depth > MAX_DEPTH + 2:
        raise DecodeError("malformed value tree")
    writer.node()
    tag = tree[0]
    leaf = _LEAVES.get(tag)
    if leaf is not None:
        writer.write(leaf(tree, writer))
        return
    container = _CONTAINERS.get(tag)
    if container is None:
        raise DecodeError(f"unknown tag {tag[:40]!r}")
    container(tree, depth + 1, writer)


def _sequence(items: Any, depth: int, writer: _Writer, open_: str, close: str,
              one_comma: bool = False) -> None:
    if type(items) is not list:
        raise DecodeError("expected a list of items in the value tree")
    writer.write(open_)
    for number, item in enumerate(items):
        if number:
            writer.write(", ")
        _render(item, depth, writer)
    if one_comma and len(items) == 1:
        writer.write(",")
    writer.write(close)


def _mapping(pairs: Any, depth: int, writer: _Writer, as_tuples: bool = False) -> None:
    if type(pairs) is not list:
        raise DecodeError("expected key-value pairs in the value tree")
    writer.write("[" if as_tuples else "{")
    for number, pair in enumerate(pairs):
        if type(pair) is not list or len(pair) != 2:
            raise DecodeError("expected key-value pairs in the value tree")
        if number:
            writer.write(", ")
        writer.write("(" if as_tuples else "")
        _render(pair[0], depth, writer)
        writer.write(", " if as_tuples else ": ")
        _render(pair[1], depth, writer)
        writer.write(")" if as_tuples else "")
    writer.write("]" if as_tuples else "}")


def _fields(tree: list[Any], size: int) -> None:
    if len(tree) != size:
        raise DecodeError(f"a {tree[0]!r} node has {len(tree)} fields, not {size}")


# -- leaves ------------------------------------------------------------------------------------
def _int_text(node: Any, writer: _Writer) -> str:
    if type(node) is not str:
        raise DecodeError("malformed int in the value tree")
    digits = len(node) - (3 if node.startswith("-") else 2)
    writer.room(int((digits - 1) * _HEX_DIGITS_PER_DECIMAL))
    if writer.source and digits > _SOURCE_HEX_DIGITS:
        decode_int(node)  # validated; hex literals have no digit limit, decimal ones do
        writer.room(len(node))
        return node
    value = decode_int(node)
    try:
        return str(value)
    except ValueError:  # past the interpreter's int-to-text digit limit, and yet within the cap
        return str(Decimal(value))


def _int_leaf(tree: list[Any], writer: _Writer) -> str:
    _fields(tree, 2)
    return _int_text(tree[1], writer)


def _float_text(node: Any) -> str:
    if type(node) is not str or len(node) > MAX_FLOAT_TEXT:
        raise DecodeError("malformed float in the value tree")
    value = float(node)
    return repr(NAN if value != value else value)


def _text_leaf(tree: list[Any], writer: _Writer) -> str:
    _fields(tree, 2)
    payload = tree[1]
    if type(payload) is not str:
        raise DecodeError(f"{tree[0]} payload is not a string")
    if tree[0] == "str":
        writer.room(len(payload) + 2)
        return repr(payload)
    writer.room(len(payload) // 2 + 3)
    value = bytes.fromhex(payload)
    return repr(value if tree[0] == "bytes" else bytearray(value))


def _fraction(tree: list[Any], writer: _Writer) -> str:
    _fields(tree, 3)
    numerator = _int_text(tree[1], writer)  # sizes checked before any arithmetic on them
    denominator = _int_text(tree[2], writer)
    if denominator == "0":
        raise DecodeError("Fraction with denominator 0 in the value tree")
    return repr(Fraction(int(numerator), int(denominator)))


def _decimal(tree: list[Any], writer: _Writer) -> str:
    _fields(tree, 2)
    if type(tree[1]) is not str:
        raise DecodeError("malformed Decimal in the value tree")
    writer.room(len(tree[1]))
    return repr(Decimal(tree[1]))


def _range(tree: list[Any], writer: _Writer) -> str:
    _fields(tree, 4)
    for node in tree[1:]:
        _int_text(node, writer)
    value = range(*(decode_int(node) for node in tree[1:]))
    return repr(value)


def _float_leaf(tree: list[Any], writer: _Writer) -> str:
    _fields(tree, 2)
    text = _float_text(tree[1])
    if writer.source and text in ("nan", "inf", "-inf"):
        return f"{'-' if text[0] == '-' else ''}float({text.lstrip('-')!r})"
    return text


def _complex_leaf(tree: list[Any], writer: _Writer) -> str:
    _fields(tree, 3)
    real, imag = _float_text(tree[1]), _float_text(tree[2])
    if writer.source:
        parts = (_float_leaf(["float", part], writer) for part in (tree[1], tree[2]))
        return f"complex({', '.join(parts)})"
    return repr(complex(float(real), float(imag)))


def _opaque(tree: list[Any], writer: _Writer) -> str:
    _fields(tree, 3)
    if writer.source:
        raise DecodeError("an object of a non-data type has no source text")
    if type(tree[1]) is not str or len(tree[1]) > MAX_TYPE_NAME or type(tree[2]) is not str:
        raise DecodeError("malformed opaque value in the value tree")
    return tree[2]


def _scalar(size: int, text: Callable[[list[Any]], str]) -> Callable[[list[Any], _Writer], str]:
    def leaf(tree: list[Any], writer: _Writer) -> str:
        _fields(tree, size)
        return text(tree)

    return leaf


_LEAVES: dict[str, Callable[[list[Any], _Writer], str]] = {
    "none": _scalar(1, lambda tree: "None"),
    "bool": _scalar(2, lambda tree: repr(tree[1]) if type(tree[1]) is bool else _bad("bool")),
    "int": lambda tree, writer: _int_leaf(tree, writer),
    "float": lambda tree, writer: _float_leaf(tree, writer),
    "complex": lambda tree, writer: _complex_leaf(tree, writer),
    "str": _text_leaf,
    "bytes": _text_leaf,
    "bytearray": _text_leaf,
    "Fraction": _fraction,
    "Decimal": _decimal,
    "range": _range,
    "opaque": _opaque,
}


def _bad(what: str) -> str:
    raise DecodeError(f"malformed {what} in the value tree")


# -- containers ----------------------------------------------------------------------------------
def _list(tree: list[Any], depth: int, writer: _Writer) -> None:
    _fields(tree, 2)
    _sequence(tree[1], depth, writer, "[", "]")


def _tuple(tree: list[Any], depth: int, writer: _Writer) -> None:
    _fields(tree, 2)
    _sequence(tree[1], depth, writer, "(", ")", one_comma=True)


def _set(tree: list[Any], depth: int, writer: _Writer) -> None:
    _fields(tree, 2)
    name = tree[0]
    if tree[1] == []:
        writer.write(f"{name}()")
        return
    prefix = "frozenset(" if name == "frozenset" else ""
    writer.write(prefix)
    _sequence(tree[1], depth, writer, "{", "}")
    writer.write(")" if prefix else "")


def _deque(tree: list[Any], depth: int, writer: _Writer) -> None:
    _fields(tree, 3)
    writer.write("deque(")
    _sequence(tree[1], depth, writer, "[", "]")
    if tree[2] is not None:
        if type(tree[2]) is not int:
            raise DecodeError("malformed deque maxlen in the value tree")
        writer.write(f", maxlen={tree[2]}")
    writer.write(")")


def _dict(tree: list[Any], depth: int, writer: _Writer) -> None:
    _fields(tree, 2)
    _mapping(tree[1], depth, writer)


def _ordered_dict(tree: list[Any], depth: int, writer: _Writer) -> None:
    _fields(tree, 2)
    if tree[1] == []:
        writer.write("OrderedDict()")
        return
    writer.write("OrderedDict(")
    _mapping(tree[1], depth, writer, as_tuples=not _ORDERED_DICT_REPR_IS_DICT)
    writer.write(")")


def _defaultdict(tree: list[Any], depth: int, writer: _Writer) -> None:
    _fields(tree, 3)
    if tree[1] is not None and tree[1] not in _FACTORIES:
        raise DecodeError("unknown defaultdict factory in the value tree")
    factory = _FACTORIES[tree[1]] if tree[1] is not None else None
    name = tree[1] if writer.source and factory is not None else repr(factory)
    writer.write(f"defaultdict({name}, ")
    _mapping(tree[2], depth, writer)
    writer.write(")")


def _counter(tree: list[Any], depth: int, writer: _Writer) -> None:
    """`Counter({...})` lists its pairs most common first, as `Counter.__repr__` does."""
    _fields(tree, 2)
    pairs = tree[1]
    if pairs == []:
        writer.write("Counter()")
        return
    if type(pairs) is not list or not all(type(p) is list and len(p) == 2 for p in pairs):
        raise DecodeError("expected key-value pairs in the value tree")
    writer.room(len(pairs) * 4)  # `k: v, ` is at least four characters a pair
    counts = [decode(pair[1], max_units=writer.left) for pair in pairs]  # bounded by the cap
    order = list(range(len(pairs)))
    try:
        order.sort(key=counts.__getitem__, reverse=True)  # stable, as `most_common` is
    except TypeError:
        order = list(range(len(pairs)))  # counts that do not order: insertion order, as Python
    writer.write("Counter(")
    _mapping([pairs[i] for i in order], depth, writer)
    writer.write(")")


_CONTAINERS: dict[str, Callable[[list[Any], int, _Writer], None]] = {
    "list": _list, "tuple": _tuple, "set": _set, "frozenset": _set, "deque": _deque,
    "dict": _dict, "OrderedDict": _ordered_dict, "defaultdict": _defaultdict, "Counter": _counter,
}
