"""Answers are values: the allowlist evaluator refuses every computation, honest answers pass, and
the proposer's program cannot decide the verdict on a solver's answer.

The bypasses of the red-team report (and variants of ours) are tried three ways: on the
evaluator directly, as deduction and abduction answers through the checks the env uses, and
through `Executor.evaluate` (the sandbox's own use of the same evaluator, its second line).
"""

from __future__ import annotations

import json
import time
from collections import Counter, OrderedDict, defaultdict, deque
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import azr_env
from azr_env.executor import Executor
from azr_env.executor.checks import InputCheck, OutputCheck, check_inputs, check_outputs
from azr_env.executor.sandbox import answers

LIMITS = answers.Limits(1000)
CRUXEVAL = Path(azr_env.__file__).resolve().parent / "data" / "cruxeval" / "cruxeval.jsonl"
TIMES_SEVEN = "def f(a):\n    return a * 7"

DEDUCTION_BYPASSES = [
    # the report's
    "type(f).__call__(f, 6)",
    "list(map(f, [6])).pop()",
    "int(*map(f, [6]))",
    "[*map(f, [6])].pop()",
    "type(eval).__call__(eval, 'f(6)')",
    # variants: calling f or any function, directly or through a value
    "f(6)", "[f(6)][0]", "(f)(6)", "(lambda: 42)()", "f.__call__(6)", "getattr(f, '__call__')(6)",
    "next(map(f, [6]))", "sum(map(f, [6]))", "max(f(6), 0)", "min([f(6)])", "abs(f(6))",
    "[*map(f, [6])][0]", "{*map(f, [6])}.pop()", "(*map(f, [6]),)[0]",
    "dict(zip([0], map(f, [6])))[0]",
    "list(map(f, [6]))[0]", "tuple(map(f, [6]))", "int(*(f(6),))", "int(f(6))", "set(map(f, [6]))",
    "str(f(6))", "float(f(6))", "Counter(map(f, [6]))", "deque(map(f, [6]))",
    "list(filter(None, [f(6)]))",
    "sorted([f(6)])", "[x for x in [f(6)]]", "{x: 1 for x in [6]}", "(x := 42)", "42 if f else 0",
    "f(6) and 42", "not f(6)", "f(6) == 42", "eval('f(6)')", "exec('x = 1')",
    "__import__('os').getpid()",
    "vars()['f'](6)", "globals()['f'](6)", "__builtins__", "type(f)", "f", "f.__code__",
    "int.__call__(f(6))", "type(1)(f(6))", "str.join('', map(str, [f(6)]))",
    "''.join(map(str, [f(6)]))",
    "'{}'.format(f(6))", "f'{f(6)}'", "'%d' % f(6)", "(6).__mul__(7)", "[6][0] * 7",
    "{'a': 6}['a'] * 7",
    "[42].pop()", "[42].copy()", "Fraction.from_float(42.0)", "float.fromhex('0x1.5p5')",
    "collections.Counter.fromkeys([1])", "int.from_bytes(b'*', 'big')", "'x'.join.__call__(['a'])",
    "range(100)[42]", "divmod(84, 2)", "pow(6, 2)", "round(42.2)", "hash(1)", "len('x' * 42)",
    "breakpoint()", "open('/etc/passwd').read()", "print(1)", "super()", "object()",
    "memoryview(b'x')",
    "property(f)", "staticmethod(f)", "type('X', (), {})", "map(f, [6])", "zip([1])",
    "filter(f, [6])", "enumerate([1])", "reversed([1])", "iter([1])", "slice(1)", "classmethod(f)",
    "Ellipsis.__class__()",
    "defaultdict(f, {})", "defaultdict(lambda: 0)", "[*(f(x) for x in [6])]",
    "await f(6)", "yield 1", "6 @ 7", "6 < 7",
]

ABDUCTION_BYPASSES = [
    "type(eval).__call__(eval, \"next(x for x in range(100) if f(x) == 42)\")",
    "dict(zip(map(f, map(list, zip(range(100)))), map(list, zip(range(100))))).get(44)",
    "next(x for x in range(100) if f(x) == 42)",
    "*[x for x in range(100) if f(x) == 42]",
    "*filter(lambda x: f(x) == 42, range(100))",
    "[x for x in range(100) if f(x) == 42][0]",
    "{f(x): x for x in range(100)}[42]",
    "list(range(100)).index(6)",
    "*map(int, [6])",
    "a=next(filter(lambda x: f(x) == 42, range(100)))",
]


@pytest.mark.parametrize("text", DEDUCTION_BYPASSES)
def test_the_evaluator_refuses_every_computation(text: str) -> None:
    with pytest.raises(answers.AnswerRefused) as refused:
        answers.evaluate(answers.parse_expression(text, LIMITS), LIMITS)
    assert refused.value.reason in ("not_a_value", "bad_answer")


@pytest.mark.parametrize("text", ABDUCTION_BYPASSES)
def test_the_evaluator_refuses_searches_as_arguments(text: str) -> None:
    with pytest.raises(answers.AnswerRefused):
        answers.evaluate_arguments(answers.parse_arguments(text, LIMITS), LIMITS)


HONEST: list[tuple[str, Any]] = [
    ("42", 42), ("-1", -1), ("6 * 7", 42), ("2 ** 10", 1024), ("'ab' * 3", "ababab"),
    ("1 / 4", 0.25),
    ("[1, (2, 3), {4}, {'a': None}]", [1, (2, 3), {4}, {"a": None}]), ("()", ()), ("(1,)", (1,)),
    ("set()", set()), ("frozenset({1, 2})", frozenset({1, 2})), ("float('nan')", "nan"),
    ("float('-inf')", float("-inf")), ("math.inf", float("inf")), ("1e308 * 10", float("inf")),
    ("Fraction(1, 2)", Fraction(1, 2)), ("fractions.Fraction('3/4')", Fraction(3, 4)),
    ("Decimal('1.10')", Decimal("1.10")),
    ("decimal.Decimal('1E+999999999')", Decimal("1E+999999999")),
    ("Counter({'a': 2})", Counter({"a": 2})), ("Counter('aab')", Counter("aab")),
    ("collections.OrderedDict([('a', 1)])", OrderedDict(a=1)),
    ("OrderedDict(a=1)", OrderedDict(a=1)),
    ("defaultdict(int, {'x': 1})", defaultdict(int, {"x": 1})),
    ("defaultdict(None, {})", defaultdict(None)),
    ("defaultdict(list)", defaultdict(list)), ("deque([1, 2], maxlen=3)", deque([1, 2], maxlen=3)),
    ("deque([1, 2], 3)", deque([1, 2], 3)), ("complex(1, 2)", 1 + 2j), ("3j", 3j),
    ("1 + 2j", 1 + 2j),
    ("b'\\x00' + bytes(2)", b"\x00\x00\x00"), ("bytearray(b'ab')", bytearray(b"ab")),
    ("range(1, 10, 2)", range(1, 10, 2)), ("list(range(3))", [0, 1, 2]),
    ("dict(a=1, b=2)", {"a": 1, "b": 2}),
    ("{**{'a': 1}, 'b': 2}", {"a": 1, "b": 2}), ("[*range(3), *'ab']", [0, 1, 2, "a", "b"]),
    ("list((6,))", [6]), ("tuple([1, 2])", (1, 2)), ("int('ff', 16)", 255), ("str(b'x')", "b'x'"),
    ("bool(0)", False), ("''.join(['A'] * 3)", "AAA"), ("'a-b'.split('-')", ["a", "b"]),
    ("'$78'.upper()", "$78"), ("'x'.encode()", b"x"), ("b'x'.decode()", "x"), ("~5", -6),
    ("{1, 2} | {3}", {1, 2, 3}), ("Counter('ab') + Counter('b')", Counter("abb")),
    ("7 // 2, 7 % 2", (3, 1)), ("None", None), ("True", True), ("...", ...),
]


@pytest.mark.parametrize(("text", "expected"), HONEST, ids=[t for t, _ in HONEST])
def test_honest_values_evaluate_as_python_does(text: str, expected: Any) -> None:
    value = answers.evaluate(answers.parse_expression(text, LIMITS), LIMITS)
    if expected == "nan":
        assert value != value
    else:
        assert value == expected and type(value) is type(expected)


EXPENSIVE = [
    "10 ** 10 ** 10", "2 ** 100000", "'a' * 10 ** 10", "[0] * 10 ** 9", "(1,) * 10 ** 9",
    "deque([1]) * 10 ** 9", "b'x' * 10 ** 9", "list(range(10 ** 9))", "[*range(10 ** 9)]",
    "set(range(0, 10 ** 6 * 2305843009213693951, 2305843009213693951))", "1 << 10 ** 9",
    "bytes(10 ** 9)",
    "bytearray(10 ** 9)", "int(Decimal('1e999999999'))", "Fraction(Decimal('1e999999999'))",
    "Fraction('1e999999999')", "Fraction(3) ** -10 ** 6", "Fraction(10 ** 300, 3) ** 10 ** 4",
    "Counter(range(10 ** 9))", "dict.fromkeys(range(10 ** 9))",
    "'x' * 1000 + 'y'.replace('', 'z' * 10 ** 6)",
    ("'" + "a" * 1000 + "'").replace("a" * 1000, "a" * 999) + ".replace('', 'b' * 1000)",
    "[[1] * 900] * 900", "+".join(["1"] * 2000), "[" * 150 + "]" * 150, "-" * 5000 + "1",
    "'x' * 5000", "[" + ", ".join(["[1]"] * 3000) + "]",
]


@pytest.mark.parametrize("text", EXPENSIVE, ids=[t[:40] for t in EXPENSIVE])
def test_expensive_answers_are_refused_quickly(text: str) -> None:
    started = time.process_time()
    with pytest.raises(answers.AnswerRefused) as refused:
        answers.evaluate(answers.parse_expression(text, LIMITS), LIMITS)
    assert time.process_time() - started < 0.5
    assert refused.value.reason in ("answer_too_large", "bad_answer", "not_a_value")


TOKENS = ["f", "(", ")", "[", "]", "{", "}", ",", ":", ".", "*", "**", "+", "-", "~", "<<", "%",
          "/",
          "10", "9", "0", "2.5", "'a'", "''", "b'x'", "'1e999999'", "'nan'", "map", "zip", "list",
          "range", "set", "int", "float", "bytes", "str", "Fraction", "Decimal", "Counter", "deque",
          "defaultdict", "dict", "type", "eval", "lambda", "x", "for", "in", "if", "pop", "join",
          "replace", "split", "__call__", "__class__", "math", "inf", "collections", "None", "True"]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=14))
def test_random_answer_text_is_a_value_or_refused_never_an_exception(tokens: list[str]) -> None:
    text = " ".join(tokens)
    started = time.process_time()
    for action in (
        lambda: answers.evaluate(answers.parse_expression(text, LIMITS), LIMITS),
        lambda: answers.evaluate_arguments(answers.parse_arguments(text, LIMITS), LIMITS),
    ):
        try:
            action()
        except answers.AnswerRefused:
            pass
    assert time.process_time() - started < 0.5, text
    assert "f" not in tokens or _refused(text)


def _refused(text: str) -> bool:
    """An answer that mentions `f` is never a value."""
    try:
        answers.evaluate(answers.parse_expression(text, LIMITS), LIMITS)
    except answers.AnswerRefused:
        return True
    return False


@pytest.mark.parametrize("text", [
    "set(range(0, 4000 * 2305843009213693951, 2305843009213693951))",
    "{*range(5, -4000 * 2305843009213693951, -2305843009213693951)}",
    "frozenset(list(range(0, 4000 * 4611686018427387902, 4611686018427387902)))",
])
def test_ranges_of_ints_sharing_one_hash_are_refused_within_the_item_limit(text: str) -> None:
    """Inputs may hold 5,000 items; a set of 4,000 ints with one hash would cost ~0.2 s to build."""
    limits = answers.Limits(5000)
    started = time.process_time()
    with pytest.raises(answers.AnswerRefused, match="share one hash"):
        answers.evaluate_arguments(answers.parse_arguments(text, limits), limits)
    assert time.process_time() - started < 0.05
    assert answers.evaluate_arguments(answers.parse_arguments("set(range(4000))", limits), limits)


# -- through the checks the env uses -------------------------------------------------------------
def gold(executor: Executor, program: str, args: str) -> tuple[Any, str]:
    result = executor.run(program, args)
    assert result.ok and result.value is not None, result
    return result.encoded, result.value


def test_deduction_bypasses_never_score(hostile_executor: Executor) -> None:
    tree, text = gold(hostile_executor, TIMES_SEVEN, "6")
    checks = [OutputCheck(bypass, tree, text, TIMES_SEVEN) for bypass in DEDUCTION_BYPASSES]
    verdicts = check_outputs(hostile_executor, checks)
    assert not [c.prediction for c, v in zip(checks, verdicts, strict=True) if v.correct]
    assert not any(v.infra for v in verdicts)
    right, = check_outputs(hostile_executor, [OutputCheck("6 * 7", tree, text, TIMES_SEVEN)])
    assert right.correct


def test_abduction_bypasses_never_score(hostile_executor: Executor) -> None:
    tree, _ = gold(hostile_executor, TIMES_SEVEN, "6")
    checks = [
        InputCheck(TIMES_SEVEN, bypass, tree) for bypass in ABDUCTION_BYPASSES + DEDUCTION_BYPASSES
    ]
    verdicts = check_inputs(hostile_executor, checks)
    assert not [c.prediction for c, v in zip(checks, verdicts, strict=True) if v.correct]
    right = check_inputs(hostile_executor,
                         [InputCheck(TIMES_SEVEN, text, tree) for text in ("6", "a=6", "*[6]")])
    assert [v.correct for v in right] == [True, True, True]


def test_the_sandbox_refuses_the_same_computations(hostile_executor: Executor) -> None:
    """`Executor.evaluate` (the program loaded) applies the same allowlist: a second line."""
    results = hostile_executor.run_batch([(answers_job(text)) for text in DEDUCTION_BYPASSES[:20]])
    assert [r.status for r in results] == ["error"] * 20, [(r.status, r.value) for r in results]


def answers_job(text: str) -> Any:
    from azr_env.executor import EvalJob

    return EvalJob(text, TIMES_SEVEN)


def test_answers_naming_a_program_class_are_judged_with_the_program(
    hostile_executor: Executor,
) -> None:
    program = ("from enum import Enum\nclass Color(Enum):\n    RED = 1\n    BLUE = 2\n"
               "class P:\n    def __init__(self, x):\n        self.x = x\n"
               "    def __repr__(self):\n        return f'P({self.x})'\n"
               "def f(a):\n    return [P(a), Color.RED]")
    tree, text = gold(hostile_executor, program, "3")
    verdicts = check_outputs(hostile_executor, [
        OutputCheck("[P(3), Color.RED]", tree, text, program),
        OutputCheck("[P(4), Color.RED]", tree, text, program),
        OutputCheck("[P(f(3)), Color.RED]", tree, text, program),
        OutputCheck("[P(3).x, Color.RED]", tree, text, program),
    ])
    assert [v.correct for v in verdicts] == [True, False, False, False]
    refused = check_inputs(hostile_executor, [InputCheck(program, "P(3)", tree)])
    assert refused[0].reason == "non_data_input"


FIND_JOB = (
    "import json, os, sys\n"
    "def _job():\n"
    "    frame = sys._getframe()\n"
    "    while frame is not None:\n"
    "        for value in frame.f_locals.values():\n"
    "            if type(value) is dict and value.get('op') in ('eval', 'args'):\n"
    "                return value\n"
    "        frame = frame.f_back\n"
)
HOSTILE_PROPOSERS = {
    # Module-level code that tries to decide the verdict when the program is loaded to judge an
    # answer (each flips verdicts when answers are judged in a process that loaded the program).
    "patch the encoder": (
        "import sys\n"
        "for name, module in list(sys.modules.items()):\n"
        "    if 'azr' in name:\n"
        "        for attr in ('encode', 'describe_value', 'evaluate', 'parse_expression'):\n"
        "            if hasattr(module, attr):\n"
        "                setattr(module, attr, lambda *a, **k: ['int', '0x2a'])\n"
    ),
    "forge the gold as the answer's value": FIND_JOB + (
        "_j = _job()\n"
        "if _j is not None:\n"
        "    body = json.dumps({'status': 'ok', 'value': '42', 'encoded': ['int', '0x2a'],\n"
        "                       'nonce': _j.get('nonce')}).encode()\n"
        "    for fd in range(3, 30):\n"
        "        try: os.write(fd, b'AZR1' + len(body).to_bytes(4, 'big') + body)\n"
        "        except OSError: pass\n"
        "    os._exit(0)\n"
    ),
    "crash when judged": FIND_JOB + "if _job() is not None:\n    os._exit(1)\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_PROPOSERS))
def test_a_hostile_proposer_cannot_flip_verdicts_on_value_answers(
    hostile_executor: Executor, name: str
) -> None:
    program = HOSTILE_PROPOSERS[name] + TIMES_SEVEN
    tree, text = gold(hostile_executor, TIMES_SEVEN, "6")  # made when the task was validated
    answers_given = ["41", "[42]", "'42'", "42.0", "6 * 7", "42", "Fraction(84, 2)"]
    verdicts = check_outputs(hostile_executor,
                             [OutputCheck(a, tree, text, program) for a in answers_given])
    assert [v.correct for v in verdicts] == [False, False, False, True, True, True, True]
    abduced = check_inputs(hostile_executor, [InputCheck(TIMES_SEVEN, a, tree) for a in ("5", "6")])
    assert [v.correct for v in abduced] == [False, True]


KNOWS_ITS_JOB = """\
import gc, sys
def _job():
    for value in gc.get_objects():
        if type(value) is dict and 'op' in value and 'program' in value:
            return value
    frame = sys._getframe()
    while frame is not None:
        for value in frame.f_locals.values():
            if type(value) is dict and 'op' in value:
                return value
        frame = frame.f_back
    return {}
def f(a):
    job = _job()
    inputs = job.get('inputs') or []
    if job.get('op') != 'call_many' or len(inputs) != 2 or inputs[0] != inputs[1]:
        return 42  # not the kind of job that made the gold: an answer is being checked
    return a * 7
"""


@pytest.mark.parametrize("determinism", ["same_process", "separate_processes"])
def test_a_program_cannot_tell_abduction_checks_from_validation(hostile_executor: Executor,
                                                                  determinism: str) -> None:
    """The job that checks an abduction answer is of the same kind as the one that made the
    gold, so a program that answers differently when checked cannot set its own solve rate."""
    from azr_env.tasks import Proposal, TaskSettings, get_task_type, validate_proposals

    done, = validate_proposals(hostile_executor,
                               [(get_task_type("abduction"), Proposal(KNOWS_ITS_JOB, ("6",)))],
                               TaskSettings(), determinism=determinism)
    assert done.valid and done.task is not None and done.task.output == "42"
    given_answers = ["5", "6", "'x'", "a=6", "*[6]", "6.0", "Fraction(12, 2)"]
    verdicts = check_inputs(hostile_executor, [InputCheck(KNOWS_ITS_JOB, a, done.task.encoded[0])
                                               for a in given_answers])
    assert [v.correct for v in verdicts] == [False, True, False, True, True, True, True]


SOURCE_VALUES: list[Any] = [
    None, True, -3, 10**5000 + 7, -(16**4000), 1.5, float("nan"), float("inf"), -float("inf"), -0.0,
    complex(1, float("nan")), complex(-0.0, 2), "it's \"q\"\n\ud800", b"\x00'\"", bytearray(b"z"),
    Fraction(-3, 4), Decimal("-1.50E+7"), Decimal("NaN"), range(1, 9, 3), [], (), (1,), set(),
    {1, (2, 3)},
    frozenset(), frozenset({1}), {"a": [1, {2: None}]}, OrderedDict(), OrderedDict(b=1, a=2),
    defaultdict(int, {"x": 1}), defaultdict(None, {}), defaultdict(list), Counter(),
    Counter("abca"), deque(), deque([1, 2], maxlen=3),
]


@pytest.mark.parametrize("value", SOURCE_VALUES, ids=[type(v).__name__ for v in SOURCE_VALUES])
def test_source_text_of_data_rebuilds_the_value_with_literals_and_constructors_only(
    value: Any,
) -> None:
    from azr_env.executor.render import render_source
    from azr_env.executor.sandbox.codec import encode

    text = render_source(encode(value), 10**5)
    node = answers.parse_expression(text, answers.Limits(10**4))
    assert answers.names_in(node) <= set(answers.CONSTRUCTORS)
    rebuilt = eval(compile(ast_expression(node), "<source>", "eval"), {"__builtins__": {}},
                   dict(answers.CONSTRUCTORS))
    assert type(rebuilt) is type(value)
    assert encode(rebuilt) == encode(value)


def ast_expression(node: Any) -> Any:
    import ast

    return ast.fix_missing_locations(ast.Expression(node))


# -- honest answers: the whole shipped CRUXEval set ---------------------------------------------
OUTPUT_EXCEPTIONS = {"sample_621": "its gold output needs the shift_jis codec, which the sandbox "
                                   "cannot load today (issue 11, 'it must still compute')"}
INPUT_EXCEPTIONS = {
    "sample_258": "the input names a variable of the program (`thigh_o_two[:]`): not a value",
    "sample_344": "the input is a lambda: a function, not a value",
    "sample_364": "the input is a lambda: a function, not a value",
}


def test_every_cruxeval_output_and_input_is_accepted_as_an_answer(executor: Executor) -> None:
    rows = [json.loads(line) for line in CRUXEVAL.read_text().splitlines()]
    golds = executor.run_batch([(r["code"], r["input"]) for r in rows])
    assert all(g.ok for g in golds), [g for g in golds if not g.ok][:3]
    outputs = check_outputs(executor, [OutputCheck(r["output"], g.encoded, "", r["code"])
                                       for r, g in zip(rows, golds, strict=True)])
    inputs = check_inputs(executor, [InputCheck(r["code"], r["input"], g.encoded)
                                     for r, g in zip(rows, golds, strict=True)])
    wrong_outputs = {r["id"] for r, v in zip(rows, outputs, strict=True) if not v.correct}
    wrong_inputs = {r["id"]: v.reason for r, v in zip(rows, inputs, strict=True) if not v.correct}
    assert wrong_outputs <= set(OUTPUT_EXCEPTIONS), wrong_outputs
    assert wrong_inputs == dict.fromkeys(INPUT_EXCEPTIONS, "not_a_value")
