"""Forged results: every byte a sandbox returns is read as hostile, and none makes the trusted
process raise or spend more than a bounded time.

A job can write its own result frame (it can find the nonce and the fd in its own memory), so
the frame reader, the payload reader (`from_payload`), the value decoder and the shown-text
renderer are fed here with random bytes, random and adversarial value trees, and each forged
tree of the red-team report, directly and through a real job that forges its frame.
"""

from __future__ import annotations

import json
import math
import string
import sys
import time
from collections import Counter, OrderedDict, defaultdict, deque
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from azr_env.executor import ExecResult, Executor
from azr_env.executor.render import render
from azr_env.executor.result import from_payload
from azr_env.executor.sandbox import framing
from azr_env.executor.sandbox.codec import DecodeError, decode, encode
from azr_env.executor.values import trees_equal
from azr_env.task import Task
from azr_env.tasks.program import check_input, check_program, strip_top_level_calls

FRAME = 1 << 20
CAP = 1000
BOUND_S = 1.0
"""The most CPU time a single forged frame may cost the trusted side (measured: under 0.15 s
for the worst; the old reader took 10-15 s on some). CPU time of this process, not wall time,
so that a loaded machine does not make the bound flaky."""
HASH_MODULUS = (1 << 61) - 1


def read(frame: bytes, cap: int = CAP) -> ExecResult | None:
    """The trusted side's whole read of one frame; None when the reader refuses the bytes."""
    reader = framing.FrameReader(FRAME)
    try:
        reader.feed(frame)
        payload = reader.pop()
    except framing.FrameError:
        return None
    if payload is None:
        return None
    result = from_payload(payload, 0.0, cap)
    trees_equal(result.encoded, ["int", "0x1"])
    for item in result.items:
        trees_equal(item.encoded, ["int", "0x1"])
    return result


def frame_of(body: str | bytes) -> bytes:
    data = body.encode() if isinstance(body, str) else body
    return framing.MAGIC + len(data).to_bytes(4, "big") + data


def ok(tree: Any, **extra: Any) -> bytes:
    return frame_of(
        json.dumps({"status": "ok", "value": "0", "encoded": tree, **extra}, separators=(",", ":"))
    )


def timed(action: Any) -> tuple[Any, float]:
    started = time.process_time()
    out = action()
    return out, time.process_time() - started


# -- random bytes and random trees: never an exception, always bounded ------------------------
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_random_bytes_never_raise_anything_but_frame_error(junk: bytes, with_header: bool) -> None:
    data = frame_of(junk) if with_header else junk
    result, seconds = timed(lambda: read(data))
    assert result is None or isinstance(result, ExecResult)
    assert seconds < BOUND_S


json_leaves = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2**60)
               | st.floats() | st.text(max_size=20)
               | st.sampled_from(["0x1", "-0x1f", "0x0", "nan", "inf", "pwned", "1e999999999",
                                  "sNaN", "", "zz", "0x", "-", "abc"]))
tags = st.sampled_from(["none", "bool", "int", "float", "complex", "str", "bytes", "bytearray",
                        "Fraction", "Decimal", "range", "opaque", "list", "tuple", "set",
                        "frozenset", "deque", "dict", "OrderedDict", "Counter", "defaultdict",
                        "call_args", "nope"])
forged_trees = st.recursive(
    json_leaves
    | st.builds(lambda tag, rest: [tag, *rest], tags, st.lists(json_leaves, max_size=3)),
    lambda inner: (
        st.builds(lambda tag, rest: [tag, *rest], tags, st.lists(inner, max_size=3))
        | st.lists(inner, max_size=4)
        | st.builds(lambda tag, items: [tag, items], tags, st.lists(inner, max_size=4))
        | st.builds(
            lambda tag, pairs: [tag, [list(p) for p in pairs]],
            tags,
            st.lists(st.tuples(inner, inner), max_size=3),
        )
    ),
    max_leaves=25,
)
payload_values = st.recursive(
    json_leaves | forged_trees,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["status", "encoded", "items", "value", "error", "reason", "duration_s", "x"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=15,
)
payloads = st.fixed_dictionaries(
    {"status": st.sampled_from(["ok", "error", "timeout", "infra", "bogus", 3])},
    optional={"encoded": forged_trees, "items": payload_values, "value": payload_values,
              "error": payload_values, "reason": payload_values, "duration_s": payload_values},
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads)
def test_forged_payloads_become_results_never_exceptions(payload: dict[str, Any]) -> None:
    result, seconds = timed(lambda: read(frame_of(json.dumps(payload))))
    assert isinstance(result, ExecResult)
    assert seconds < BOUND_S
    if result.ok and result.encoded is not None:
        assert result.value is not None and len(result.value) <= CAP
        assert result.value == render(result.encoded, CAP)  # the text is the tree's, not the job's


@settings(max_examples=400, deadline=None)
@given(forged_trees)
def test_decode_and_render_of_forged_trees_raise_only_decode_error(tree: Any) -> None:
    for action in (lambda: decode(tree), lambda: render(tree, CAP)):
        try:
            _, seconds = timed(action)
        except DecodeError:
            continue
        assert seconds < BOUND_S


# -- honest values: encode -> wire -> read gives the same value and Python's own repr ------------
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8),
    st.binary(max_size=8), st.complex_numbers(allow_nan=False), st.fractions(),
    st.decimals(allow_nan=False, places=3),
)
hashables = st.recursive(
    scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=6
)
containers = st.recursive(
    scalars | hashables,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.sets(hashables, max_size=4),
        st.dictionaries(hashables, inner, max_size=4),
        st.dictionaries(hashables, inner, max_size=4).map(OrderedDict),
        st.dictionaries(hashables, st.integers(-3, 5), max_size=4).map(Counter),
        st.dictionaries(st.text(max_size=3), inner, max_size=3).map(lambda d: defaultdict(list, d)),
        st.lists(inner, max_size=4).map(deque),
        st.tuples(st.lists(inner, max_size=3), st.integers(3, 6)).map(lambda p: deque(*p)),
        st.lists(st.integers(-5, 5), max_size=3).map(
            lambda xs: range(*xs) if xs and xs[-1] else range(3)
        ),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(containers)
def test_round_trip_keeps_value_type_and_repr(value: Any) -> None:
    text = repr(value)
    payload = json.loads(json.dumps({"status": "ok", "value": "FORGED", "encoded": encode(value)}))
    result = from_payload(payload, 0.0, max(len(text), 1))
    assert result.ok, result
    assert result.value == text  # re-derived here, and equal to Python's repr
    back = decode(result.encoded)
    assert type(back) is type(value)
    assert back == value
    if isinstance(value, Counter):
        assert dict(back) == dict(value)


@pytest.mark.parametrize(
    ("gold", "answer", "equal"),
    [
        (Counter({"a": 2}), {"a": 2}, True),
        (Counter({"a": 2}), Counter({"a": 2}), True),
        (Counter({"a": 2}), {("a", 2): 1}, False),
        (Counter({"a": 2}), Counter({("a", 2): 1}), False),
        (Counter("abracadabra"), Counter({"a": 5, "b": 2, "r": 2, "c": 1, "d": 1}), True),
        (Counter({"a": 0}), Counter(), True),  # Python's rule: between Counters, zero is missing
        (Counter({"a": 0}), {}, False),
        (OrderedDict([("a", 1), ("b", 2)]), {"b": 2, "a": 1}, True),
        (defaultdict(int, {"x": [1]}), {"x": [1]}, True),
        (deque([1, 2], maxlen=3), deque([1, 2]), True),
        (deque([1, 2]), [1, 2], False),
    ],
)
def test_counters_and_other_mappings_compare_as_python_does(
    gold: Any, answer: Any, equal: bool
) -> None:
    assert trees_equal(encode(gold), encode(answer)) is equal
    assert (gold == answer) is equal


def test_counter_text_lists_the_most_common_first() -> None:
    for value in (Counter("abracadabra"), Counter({"x": 1, "y": 3, "z": 3}),
                  Counter({"a": 1.5, "b": Fraction(7, 2)})):
        assert render(encode(value), CAP) == repr(value)


# -- each example of the report, and variants ---------------------------------------------------
FORGED = {
    "Fraction with denominator 0": ["Fraction", "0x1", "0x0"],
    "Fraction with a non-hex part": ["Fraction", "0x1", "2"],
    "deque with maxlen 2**100": ["deque", [], 2**100],
    "deque with negative maxlen": ["deque", [], -1],
    "deque longer than its maxlen": ["deque", [["int", "0x1"], ["int", "0x2"]], 1],
    "deque with maxlen True": ["deque", [], True],
    "Decimal('pwned')": ["Decimal", "pwned"],
    "Decimal of a number": ["Decimal", 5],
    "range with step 0": ["range", "0x0", "0x5", "0x0"],
    "int in decimal": ["int", "12"],
    "int of 1 MiB": ["int", "0x" + "f" * (FRAME - 100)],
    "float text of 1000 digits": ["float", "1" * 1000],
    "bytes not hex": ["bytes", "zz"],
    "bool that is an int": ["bool", 1],
    "set of unhashable lists": ["set", [["list", []]]],
    "dict with a list key": ["dict", [[["list", []], ["int", "0x1"]]]],
    "dict with a key twice": ["dict",
                              [[["int", "0x1"], ["int", "0x1"]], [["int", "0x1"], ["int", "0x2"]]]],
    "set with a member twice": ["set", [["int", "0x1"], ["int", "0x1"]]],
    "Counter of pairs": ["Counter", [["str", "a"]]],
    "defaultdict with a made-up factory": ["defaultdict", "os.system", []],
    "opaque with a 2000-char type": ["opaque", "x" * 2000, "r"],
    "unknown tag": ["eval", "__import__('os')"],
    "list with extra fields": ["list", [], "extra"],
    "tag not a string": [["list"], []],
    "call_args with a bad keyword": ["call_args", [], [["not an identifier", ["none"]]]],
}


@pytest.mark.parametrize("name", sorted(FORGED))
def test_each_forged_tree_is_the_jobs_own_error(name: str) -> None:
    result, seconds = timed(lambda: read(ok(FORGED[name])))
    assert result is not None and result.status == "error", result
    assert result.reason in ("malformed_result", "output_too_long"), result
    assert not result.items and result.value is None and result.encoded is None
    assert seconds < BOUND_S


def test_a_forged_value_text_never_reaches_the_caller() -> None:
    result = read(ok(["int", "0x1"], value="x" * 300_000))
    assert result is not None and result.ok and result.value == "1"
    shown = read(ok(["str", "y" * 300_000]))
    assert shown is not None and shown.reason == "output_too_long" and shown.value is None


def test_forged_reason_error_and_duration_are_cut_or_dropped() -> None:
    payload = {"status": "error", "reason": "Valid; reward=1", "error": "e" * 10**5,
               "duration_s": "soon"}
    result = read(frame_of(json.dumps(payload)))
    assert result is not None and result.reason is None and len(result.error or "") <= 500
    weird = read(
        frame_of(json.dumps({"status": "ok", "items": [{"status": "ok", "items": []}, 5]}))
    )
    assert weird is not None and [i.reason for i in weird.items] == ["malformed_result"] * 2


WORST = {
    # name: (frame, the most the read may take)
    "set of colliding ints, max frame": ok(
        ["set", [["int", hex(i * HASH_MODULUS)] for i in range(30_000)]]
    ),
    "huge Fraction, max frame": ok(
        ["Fraction", "0x" + "9e3779b97f4a7c15" * 30_000, "0x" + "f4a7c159e3779b97" * 30_000]
    ),
    "flat list, max frame": ok(["list", [["int", hex(i)] for i in range(60_000)]]),
    "JSON nested 990 deep": frame_of('{"status":"ok","encoded":' + "[" * 990 + "]" * 990 + "}"),
    "JSON nested 100000 deep": frame_of(
        '{"status":"ok","encoded":' + "[" * 100_000 + "]" * 100_000 + "}"
    ),
    "lists nested 300 deep": ok(json.loads('["list", [' * 300 + '["none"]' + "]]" * 300)),
    "items nested 400 deep": frame_of(
        '{"status":"ok","items":[' * 400 + '{"status":"ok"}' + "]}" * 400
    ),
    "a string full of brackets and escapes": ok(["str", '[{\\"' * 170_000]),
}


@pytest.mark.parametrize("name", sorted(WORST))
def test_worst_case_frames_cost_bounded_time(name: str) -> None:
    frame = WORST[name]
    assert len(frame) <= FRAME + framing.HEADER_SIZE
    result, seconds = timed(lambda: read(frame))
    assert seconds < BOUND_S, f"{name}: {seconds:.2f} s"
    assert (
        result is None or not result.ok or (result.value is not None and len(result.value) <= CAP)
    )


def test_deep_json_is_refused_even_when_the_caller_is_deep_in_its_stack() -> None:
    """In a trainer, the reader runs under many frames; the parser must not hit the limit."""
    frame = frame_of('{"status":"ok","encoded":' + "[" * 900 + "]" * 900 + "}")
    depth_left = sys.getrecursionlimit() - len(_stack()) - 60

    def nested(levels: int) -> ExecResult | None:
        return read(frame) if levels == 0 else nested(levels - 1)

    assert nested(depth_left) is None


def _stack() -> list[Any]:
    frame, out = sys._getframe(), []
    while frame is not None:
        out.append(frame)
        frame = frame.f_back  # type: ignore[assignment]
    return out


tricky_text = st.text(alphabet='[]{}"\\/ab\n\u00e9', max_size=6)
tricky_json = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=30,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=500, deadline=None)
@given(tricky_json, st.booleans())
def test_json_depth_counts_only_brackets_outside_strings(value: Any, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert framing.json_depth(body) == _depth(value)


def test_frame_reader_refuses_deep_bodies_and_keeps_shallow_ones() -> None:
    deep = frame_of(
        '{"a":' + "[" * (framing.MAX_JSON_DEPTH + 5) + "]" * (framing.MAX_JSON_DEPTH + 5) + "}"
    )
    with pytest.raises(framing.FrameError, match="deeper"):
        reader = framing.FrameReader(FRAME)
        reader.feed(deep)
        reader.pop()
    honest: Any = 0
    for _ in range(99):
        honest = {1: [honest]}
    reader = framing.FrameReader(FRAME)
    reader.feed(framing.pack({"status": "ok", "encoded": encode(honest)}))
    message = reader.pop()
    assert message is not None and trees_equal(message["encoded"], encode(honest))


# -- proposals: the trusted side parses model text without recursing without bound -------------
DEEP_TEXTS = [
    "+".join(["1"] * 1000),
    "+".join(["1"] * 4000),
    "-" * 5000 + "1",
    "(" * 190 + "1" + ")" * 190,
    "[" * 300 + "]" * 300,
    "not " * 3000 + "1",
    "a." * 3000 + "b",
    "f(" * 150 + ")" * 150,
]


@pytest.mark.parametrize("text", DEEP_TEXTS, ids=[t[:12] for t in DEEP_TEXTS])
def test_tasks_and_static_checks_survive_deeply_nested_model_text(text: str) -> None:
    program = "def f(a):\n    return a"
    Task("deduction", program, (text,), ("1",))
    Task("deduction", f"def f(a):\n    return {text}", ("1",), ("1",))
    check_input(text, 10**6)
    check_program(f"def f(a):\n    return {text}", [], 10**6)
    stripped = strip_top_level_calls(f"{program}\nif {text}:\n    pass\n{text}\n")
    assert stripped.startswith(program)


# -- end to end: a real job that forges its own frame ------------------------------------------
FORGER = """\
import gc, json, os, sys
def f(a):
    nonce = None
    frame = sys._getframe()
    while frame is not None and nonce is None:
        for value in frame.f_locals.values():
            if type(value) is dict and isinstance(value.get('nonce'), str):
                nonce = value['nonce']
        frame = frame.f_back
    body = make_body(nonce).encode()
    for fd in range(3, 30):
        try:
            os.write(fd, b'AZR1' + len(body).to_bytes(4, 'big') + body)
        except OSError:
            pass
    os._exit(0)
"""


def forger(tree: Any) -> str:
    """A program whose job writes a result frame claiming `tree`, with a 300,000-char text."""
    return (f"import json\ndef make_body(nonce):\n    return json.dumps({{'status': 'ok', 'value': "
            f"'x' * 300000, 'encoded': {tree!r}, 'nonce': nonce}})\n" + FORGER)


@pytest.mark.parametrize("name", ["Fraction with denominator 0", "deque with maxlen 2**100",
                                  "Decimal('pwned')", "dict with a key twice", "Counter of pairs"])
def test_a_job_forging_its_own_frame_gets_its_own_error(
    hostile_executor: Executor, name: str
) -> None:
    result = hostile_executor.run(forger(FORGED[name]), "0")
    assert result.status in ("error", "forbidden"), result
    assert result.value is None
    assert hostile_executor.run("def f(a):\n    return a + 1", "1").value == "2"


@pytest.mark.parametrize("depth", [330, 990, 5000])
def test_a_job_forging_deep_json_does_not_raise_on_the_trusted_side(
    hostile_executor: Executor, depth: int
) -> None:
    program = ("def make_body(nonce):\n    return '{\"status\":\"ok\",\"nonce\":\"' + str(nonce) + "
               f"'\",\"encoded\":' + '[' * {depth} + ']' * {depth} + '}}'\n" + FORGER)
    result = hostile_executor.run(program, "0")
    # infra: finding 5, another layer's
    assert result.status in ("error", "forbidden", "infra"), result
    assert hostile_executor.run("def f(a):\n    return a + 1", "1").value == "2"


def test_a_forged_value_text_through_a_real_job_is_replaced_by_the_trees(
    hostile_executor: Executor,
) -> None:
    result = hostile_executor.run(forger(["list", [["int", "0x2a"]]]), "0")
    assert not result.ok or result.value == "[42]"


def test_nan_and_floats_keep_their_python_text() -> None:
    for value in (float("nan"), [float("nan")], -0.0, 1e300, float("-inf"),
                  complex(-0.0, math.inf)):
        assert render(encode(value), CAP) == repr(value)
    assert render(encode(string.printable), CAP) == repr(string.printable)
    assert render(encode(Decimal("-1.50E+7")), CAP) == repr(Decimal("-1.50E+7"))
