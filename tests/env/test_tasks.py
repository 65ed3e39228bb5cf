"""Task types: static validation reasons, sandboxed validation, answer equivalence, parsers."""

from __future__ import annotations

import pytest
from env_helpers import MakeEnv, answer, block
from hypothesis import given, settings
from hypothesis import strategies as st

from azr_env.executor import Executor
from azr_env.formats import get_format
from azr_env.tasks import (
    Proposal,
    ProposeContext,
    Rejection,
    TaskSettings,
    available_task_types,
    get_task_type,
    validate_proposals,
)
from azr_env.tasks.program import REFERENCE_BANNED_MODULES, check_program, strip_top_level_calls

SETTINGS = TaskSettings()
DEDUCTION = get_task_type("deduction")


def _check(program: str) -> str | None:
    return check_program(program, REFERENCE_BANNED_MODULES, 20_000)


@pytest.mark.parametrize(
    ("program", "reason"),
    [
        ("def f(a):\n    return a", None),
        (
            "import math\nclass B:\n    pass\ndef f(a, *, k=1):\n    def g():\n        return a\n"
            "    return g()",
            None,
        ),
        ("def f(*args):\n    return args", None),
        ("def f(a)\n    return a", "syntax_error"),
        ("def g(a):\n    return a", "no_entry_function"),
        ("def f():\n    return 1", "entry_without_parameters"),
        ("x" * 20_001, "program_too_long"),
        *[
            (f"import {m}\ndef f(a):\n    return a", "forbidden_module")
            for m in REFERENCE_BANNED_MODULES
        ],
        ("from os import path\ndef f(a):\n    return a", "forbidden_module"),
        ("from os.path import join\ndef f(a):\n    return a", "forbidden_module"),
        ("import os\ndef f(a):\n    return os.sys.exit(1)", "forbidden_module"),
        ("import os\ndef f(a):\n    return os.environ", "forbidden_module"),
        ("import sys\ndef f(a):\n    sys.exit(0)", "forbidden_module"),
        ("import os\ndef f(a):\n    return os.getcwd", None),
        ("def f(a):\n    return __import__('random').random()", "dynamic_import"),
        ("import importlib\ndef f(a):\n    return a", "dynamic_import"),
        ("def f(a):\n    return __builtins__.__import__('os')", "dynamic_import"),
        ("def f(a):\n    time = 3\n    return a.time + time", None),  # names, not modules
    ],
)
def test_static_validation_reasons(program: str, reason: str | None) -> None:
    assert _check(program) == reason


def test_demo_calls_after_f_are_stripped() -> None:
    source = "def f(a):\n    return a\n\nprint(f(1))\nf(2)\nif __name__ == '__main__':\n    f(3)"
    assert strip_top_level_calls(source) == "def f(a):\n    return a"


@pytest.mark.parametrize(
    ("program", "args", "mode", "reason"),
    [
        ("def f(a):\n    return a", "1", "same_process", "valid"),
        ("calls = []\ndef f(a):\n    calls.append(a)\n    return len(calls)", "1", "same_process",
         "nondeterministic"),
        ("calls = []\ndef f(a):\n    calls.append(a)\n    return len(calls)", "1",
         "separate_processes", "valid"),  # fresh state in each process
        ("def f(a):\n    return id(object()) % 1000003", "1", "separate_processes",
         "nondeterministic"),
        ("def f(a):\n    return 'x' * 5000", "1", "same_process", "output_too_long"),
        ("def f(a):\n    return 1 / a", "0", "same_process", "program_error"),
        ("def f(a):\n    return f(a)", "0", "same_process", "recursion_limit"),
        ("def f(a):\n    return a", "undefined_name", "same_process", "bad_input"),
    ],
)
def test_sandboxed_validation_reasons(
    executor: Executor, program: str, args: str, mode: str, reason: str
) -> None:
    done, = validate_proposals(executor, [(DEDUCTION, Proposal(program, (args,)))], SETTINGS,
                               determinism=mode)
    assert done.reason == reason, done
    assert done.valid is (reason == "valid")


def test_validation_is_one_batch_and_keeps_order(executor: Executor) -> None:
    items = [(DEDUCTION, Proposal(f"def f(a):\n    return a + {i}", ("1",))) for i in range(6)]
    items.insert(3, (DEDUCTION, Proposal("def f(:", ("1",))))
    done = validate_proposals(executor, items, SETTINGS, step=7)
    assert [d.reason for d in done] == ["valid"] * 3 + ["syntax_error"] + ["valid"] * 3
    assert [d.task.outputs[0] for d in done if d.task] == [str(1 + i) for i in range(6)]
    assert all(d.task.step == 7 for d in done if d.task)


# Answer equivalence through the env: a posed task, several answers (spec section 5).
EQUIVALENCE = [
    ("def f(a):\n    return set(a)", "[2, 1]", "{2, 1}", "{1, 3}"),
    ("def f(a):\n    return a", "'it\\'s'", '"it\'s"', "'its'"),
    ("def f(a):\n    return [float(a)]", "'nan'", "[float('nan')]", "[0.0]"),
    ("def f(a):\n    return a ** 40", "7", str(7**40), str(7**40 - 1)),
    ("def f(a):\n    return a.encode()", "'h\u00e9'", "b'h\\xc3\\xa9'", "'h\u00e9'"),
    ("def f(a):\n    return {'k': (a, [a])}", "1", "{'k': (1.0, [True])}", "{'k': [1, [1]]}"),
    (
        "from fractions import Fraction\ndef f(a):\n    return Fraction(a, 4)",
        "2",
        "Fraction(2, 4)",
        "0.5000001",
    ),
    (
        "from collections import defaultdict\ndef f(a):\n    d = defaultdict(int)\n    d[a] += 1\n"
        "    return d",
        "'x'",
        "defaultdict(<class 'int'>, {'x': 1})",
        "{'x': 2}",
    ),
    ("def f(a):\n    return '\u00fc\\n\"q\"'", "0", "'\u00fc\\n\"q\"'", "'u'"),
]


@pytest.mark.parametrize(("program", "args", "right", "wrong"), EQUIVALENCE)
def test_deduction_answers_compare_by_value(
    make_env: MakeEnv, program: str, args: str, right: str, wrong: str
) -> None:
    env = make_env("deduction", "solve")
    task = {"program": program, "input": args}
    rewards = []
    for prediction in (right, wrong):
        env.reset(options={"task": task})
        rewards.append(env.step(answer(block("output", prediction)))[1])
    assert rewards == [1.0, -0.5]


def test_abduction_accepts_any_input_with_the_gold_output(make_env: MakeEnv) -> None:
    env = make_env("abduction", "solve")
    task = {"program": "def f(xs):\n    return sorted(set(xs))[:2]", "input": "[3, 1, 2, 1]"}
    results = []
    for prediction in ("[1, 2]", "xs=(2, 1, 9)", "[1, 3]", "__import__('os').getpid()", "[1, 2]]"):
        env.reset(options={"task": task})
        _, reward, *_, info = env.step(answer(block("input", prediction)))
        results.append((reward, info["reason"]))
    assert [r for r, _ in results] == [1.0, 1.0, -0.5, -0.5, -0.5]


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.characters(codec=None), max_size=400),
       fmt_name=st.sampled_from(["r1", "plain"]),
       type_name=st.sampled_from(["deduction", "abduction", "induction"]))
def test_parsers_never_raise(text: str, fmt_name: str, type_name: str) -> None:
    fmt = get_format(fmt_name)
    tt = get_task_type(type_name)
    context = ProposeContext(program=None)
    got = tt.parse_proposal(fmt, text, context, SETTINGS)
    assert isinstance(got, (Proposal, Rejection))
    if isinstance(got, Proposal):
        rejected = tt.static_check(got, SETTINGS)
        assert rejected is None or isinstance(rejected.reason, str)
    answer_text = tt.parse_answer(fmt, text)
    assert answer_text is None or isinstance(answer_text, str)


def test_paper_task_types_are_registered() -> None:
    assert available_task_types()[:3] == ["deduction", "abduction", "induction"]
