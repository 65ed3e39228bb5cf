"""The value codec: what crosses the sandbox boundary must round-trip and compare like Python."""

from __future__ import annotations

import json
import math
from collections import Counter, OrderedDict, defaultdict, deque
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azr_env.executor.sandbox.codec import (
    NAN,
    DecodeError,
    EncodeError,
    Opaque,
    contains_opaque,
    decode,
    encode,
    trees_equal,
    values_equal,
)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True), st.text(), st.binary(),
    st.complex_numbers(allow_nan=False), st.fractions(), st.decimals(allow_nan=False),
)
hashables = st.recursive(
    scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=8
)
values = st.recursive(
    scalars | hashables,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.tuples(inner, inner), st.sets(hashables, max_size=4),
        st.dictionaries(hashables, inner, max_size=4),
    ),
    max_leaves=20,
)


def through_wire(value: Any) -> Any:
    """What the trusted side receives: encode, JSON (the frame body), decode."""
    return decode(json.loads(json.dumps(encode(value), ensure_ascii=True)))


@given(values)
def test_round_trip_preserves_value(value: Any) -> None:
    assert values_equal(through_wire(value), _nan_to_singleton(value))


@given(values, values)
def test_equality_is_symmetric_and_matches_python_on_nan_free_values(a: Any, b: Any) -> None:
    ta, tb = encode(a), encode(b)
    assert trees_equal(ta, tb) == trees_equal(tb, ta)
    if not _has_nan(a) and not _has_nan(b):
        assert trees_equal(ta, tb) == (a == b)


def _has_nan(value: Any) -> bool:
    return "nan" in repr(value).lower()


def _nan_to_singleton(value: Any) -> Any:
    return decode(encode(value))


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ({1, 2}, {2, 1}, True),
        ("a", "a", True),
        (1, 1.0, True),
        (1, True, True),
        (float("nan"), float("nan"), True),
        ([float("nan"), 1], [float("nan"), 1], True),
        ({"k": float("nan")}, {"k": float("nan")}, True),
        (0.1 + 0.2, 0.3, False),
        (10**500, 10**500, True),
        (10**500, 10**500 + 1, False),
        (b"\x00\xff", b"\x00\xff", True),
        (b"a", "a", False),
        ("caf\u00e9 \U0001f600 \"'", "caf\u00e9 \U0001f600 \"'", True),
        ("\ud800", "\ud800", True),
        (Fraction(1, 2), 0.5, True),
        (Decimal("1.10"), Decimal("1.1"), True),
        (defaultdict(int, {"a": 1}), {"a": 1}, True),
        (Counter("aab"), Counter({"a": 2, "b": 1}), True),
        (OrderedDict(a=1), {"a": 1}, True),
        (deque([1, 2]), deque([1, 2]), True),
        ((1, 2), [1, 2], False),
        (range(3), range(0, 3), True),
        (frozenset({1}), {1}, True),
        (complex(1, 2), complex(1, 2), True),
    ],
)
def test_value_equality_cases(a: Any, b: Any, equal: bool) -> None:
    assert trees_equal(encode(a), encode(b)) is equal


class Point:
    def __init__(self, x: int) -> None:
        self.x = x

    def __repr__(self) -> str:
        return f"Point({self.x})"


class SneakyInt(int):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__


def test_other_types_are_opaque_and_compared_by_type_and_repr() -> None:
    assert encode(Point(1))[0] == "opaque"
    assert trees_equal(encode(Point(1)), encode(Point(1)))
    assert not trees_equal(encode(Point(1)), encode(Point(2)))
    # A subclass with a lying __eq__ is opaque: its __eq__ never runs in the trusted process.
    sneaky = encode(SneakyInt(3))
    assert sneaky[0] == "opaque"
    assert not trees_equal(sneaky, encode(4))
    assert isinstance(decode(sneaky), Opaque)
    assert contains_opaque(["list", [["int", "0x1"], sneaky]])
    assert not contains_opaque(encode([1, {2: (3,)}]))


def test_recursive_structures_are_refused_not_looped() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(EncodeError):
        encode(loop)


def test_deep_nesting_becomes_opaque_instead_of_recursing_without_bound() -> None:
    deep: Any = 0
    for _ in range(500):
        deep = [deep]
    tree = encode(deep)
    assert contains_opaque(tree)


def test_decoded_nan_is_the_singleton() -> None:
    assert decode(encode(float("nan"))) is NAN
    assert math.isnan(NAN)


@pytest.mark.parametrize("tree", [None, [], ["nope"], ["int", "zz"], ["list", 5], ["str", 3],
                                  ["dict", [[["list", []], ["int", "0x1"]]]], "text", {"a": 1}])
def test_malformed_trees_raise_decode_error_and_never_compare_equal(tree: Any) -> None:
    with pytest.raises(DecodeError):
        decode(tree)
    assert not trees_equal(tree, tree)


@given(st.recursive(st.none() | st.integers() | st.text(), lambda c: st.lists(c), max_leaves=10))
def test_decode_of_arbitrary_json_never_raises_anything_but_decode_error(junk: Any) -> None:
    try:
        decode(junk)
    except DecodeError:
        pass


def test_ints_beyond_the_str_digit_limit_round_trip() -> None:
    huge = 10**5000 + 7
    assert trees_equal(encode(huge), encode(10**5000 + 7))
    assert not trees_equal(encode(huge), encode(huge - 1))
