"""Answer checks of the three task types, as the environment calls them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import azr_env
from azr_env.executor import Executor
from azr_env.executor.checks import (
    InputCheck,
    OutputCheck,
    ProgramCheck,
    check_inputs,
    check_outputs,
    check_programs,
)

CRUXEVAL = Path(azr_env.__file__).resolve().parent / "data" / "cruxeval" / "cruxeval.jsonl"


def gold(executor: Executor, program: str, args: str) -> tuple[Any, str]:
    result = executor.run(program, args)
    assert result.ok, result
    assert result.value is not None
    return result.encoded, result.value


@pytest.mark.parametrize(
    ("program", "args", "prediction", "correct"),
    [
        ("def f(a):\n    return set(a)", "[2, 1]", "{1, 2}", True),
        ("def f(a):\n    return set(a)", "[2, 1]", "{2, 1}", True),
        ("def f(a):\n    return a", "'a'", '"a"', True),
        ("def f(a):\n    return a", "'it\\'s'", '"it\'s"', True),
        ("def f(a):\n    return float(a)", "'nan'", "float('nan')", True),
        ("def f(a):\n    return [float(a)]", "'nan'", "[float('nan')]", True),
        ("def f(a):\n    return a ** 50", "7", str(7**50), True),
        ("def f(a):\n    return a ** 50", "7", str(7**50 + 1), False),
        ("def f(a):\n    return a.encode()", "'h\u00e9'", "b'h\\xc3\\xa9'", True),
        ("def f(a):\n    return 1", "0", "1.0", True),
        ("def f(a):\n    return (1, 2)", "0", "[1, 2]", False),
        (
            "from fractions import Fraction\ndef f(a):\n    return Fraction(a, 4)",
            "2",
            "Fraction(1, 2)",
            True,
        ),
        (
            "from collections import defaultdict\ndef f(a):\n    d = defaultdict(int)\n"
            "    d[a] += 1\n    return d",
            "'x'",
            "defaultdict(<class 'int'>, {'x': 1})",
            True,
        ),
        ("def f(a):\n    return a", "1", "not an expression(", False),
        ("def f(a):\n    return a", "1", "__import__('os').getpid()", False),
        ("def f(a):\n    return a * 7", "6", "f(6)", False),
        ("def f(a):\n    return a * 7", "6", "[f(6)][0]", False),
        ("def f(a):\n    return a * 7", "6", "(lambda: 42)()", False),
        ("def f(a):\n    return a * 7", "6", "6 * 7", True),
        ("def f(a):\n    return [a]", "6", "list((6,))", True),
    ],
)
def test_deduction_compares_values_not_strings(
    executor: Executor, program: str, args: str, prediction: str, correct: bool
) -> None:
    tree, text = gold(executor, program, args)
    verdict, = check_outputs(executor, [OutputCheck(prediction, tree, text, program)])
    assert verdict.correct is correct, verdict
    assert not verdict.infra


def test_abduction_accepts_any_input_that_gives_the_output(executor: Executor) -> None:
    program = "def f(xs):\n    return sorted(xs)[0]"
    tree, _ = gold(executor, program, "[3, 1, 2]")
    predictions = ["[1]", "[5, 1, 9]", "[2]", "[1, 'a']", "xs=[1, 1]", "__import__('os').getpid()",
                   "next([x] for x in range(9) if f([x]) == 1)", "list(range(1, 3))"]
    verdicts = check_inputs(executor, [InputCheck(program, p, tree) for p in predictions])
    assert [v.correct for v in verdicts] == [True, True, False, False, True, False, False, True]
    assert verdicts[6].reason == "not_a_value"
    assert verdicts[2].reason == "wrong_value"
    assert verdicts[3].reason == "program_error"


def test_abduction_cannot_be_won_by_forging_the_result_frame(executor: Executor) -> None:
    """The predicted input runs in a job that never calls f; the gold value never enters it."""
    program = "def f(a):\n    return a * 1000003"
    tree, _ = gold(executor, program, "12345")
    forge = (
        "(lambda os, sys, json: [os.write(fd, b'AZR1' + len(body).to_bytes(4, 'big') + body) "
        "for fd in range(3, 12) for body in [json.dumps({'status': 'ok', 'value': '12345', "
        "'encoded': ['call_args', [['int', hex(12345)]], []], "
        "'nonce': sys._getframe(5).f_locals.get('job', {}).get('nonce')}).encode()]] "
        "and os._exit(0))(__import__('os'), __import__('sys'), __import__('json'))"
    )
    verdict, = check_inputs(executor, [InputCheck(program, forge, tree)])
    assert not verdict.correct


def test_induction_needs_every_held_out_pair(executor: Executor) -> None:
    hidden = "def f(a):\n    return a * 2 + 1"
    inputs = ("1", "2", "10")
    trees = tuple(gold(executor, hidden, x)[0] for x in inputs)
    candidates = [
        "def f(a):\n    return 2 * a + 1",
        "def f(a):\n    return a + 2",  # right on the first pair only
        "def f(a):\n    return 1 / (a - 1)",
        "def f(a:",
    ]
    verdicts = check_programs(executor, [ProgramCheck(c, inputs, trees) for c in candidates])
    assert [v.correct for v in verdicts] == [True, False, False, False]
    assert verdicts[1].reason == "wrong_value" and "case 2" in (verdicts[1].detail or "")
    assert verdicts[2].reason == "program_error"
    assert verdicts[3].reason == "syntax_error"


def test_cruxeval_gold_answers_pass_and_shuffled_ones_fail(executor: Executor) -> None:
    rows = [json.loads(line) for line in CRUXEVAL.read_text().splitlines()[:60]]
    golds = executor.run_batch([(r["code"], r["input"]) for r in rows])
    assert all(g.ok for g in golds), [g for g in golds if not g.ok][:3]
    outputs = check_outputs(executor, [OutputCheck(r["output"], g.encoded, g.value or "", r["code"])
                                       for r, g in zip(rows, golds, strict=True)])
    inputs = check_inputs(executor, [InputCheck(r["code"], r["input"], g.encoded)
                                     for r, g in zip(rows, golds, strict=True)])
    assert all(v.correct for v in outputs)
    assert all(v.correct for v in inputs)
    shifted = rows[1:] + rows[:1]
    wrong = check_outputs(executor, [OutputCheck(s["output"], g.encoded, g.value or "", r["code"])
                                     for r, s, g in zip(rows, shifted, golds, strict=True)])
    assert sum(v.correct for v in wrong) <= 3
