"""The reference's proposal rules as env options: one function renamed to `f`, and N or more
induction inputs with the last N kept (`azr_env.tasks.reference_rules`)."""

from __future__ import annotations

import pytest
from env_helpers import MakeEnv, induction, triplet

from azr_env.errors import AZRConfigError
from azr_env.tasks.base import Rejection
from azr_env.tasks.reference_rules import induction_inputs, one_function_named_f


def test_one_function_is_renamed_to_f_with_its_calls() -> None:
    program = "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib (n - 2)"
    assert one_function_named_f(program) == (
        "def f(n):\n    return n if n < 2 else f(n - 1) + f(n - 2)")
    assert one_function_named_f("def f(a):\n    return a") == "def f(a):\n    return a"


@pytest.mark.parametrize(
    ("program", "reason"),
    [
        ("def g(a):\n    return a\ndef f(a):\n    return g(a)", "several_functions"),
        (
            "def f(a):\n    def inner(b):\n        return b\n    return inner(a)",
            "several_functions",
        ),
        (
            "class A:\n    def get(self):\n        return 1\ndef f(a):\n    return A().get()",
            "several_functions",
        ),
        ("f = lambda a: a", "no_function"),
    ],
)
def test_programs_the_reference_refuses(program: str, reason: str) -> None:
    got = one_function_named_f(program)
    assert isinstance(got, Rejection) and got.reason == reason


def test_induction_inputs_exactly_n_or_the_last_n() -> None:
    found = [str(i) for i in range(12)]
    assert isinstance(induction_inputs(found, 10, "reject"), Rejection)
    assert induction_inputs(found, 10, "keep_last") == found[2:]
    assert isinstance(induction_inputs(found[:9], 10, "keep_last"), Rejection)
    assert induction_inputs(found[:10], 10, "reject") == found[:10]


def test_the_env_applies_one_function(make_env: MakeEnv) -> None:
    helper = "def double(a):\n    return a * 2\n"
    for one_function in (False, True):
        env = make_env("deduction", "propose", one_function=one_function)
        env.reset(seed=0)
        *_, info = env.step(triplet(helper + "def f(a):\n    return double(a)", "3"))
        assert info["format_ok"] != one_function, info
        assert (info["reason"] == "several_functions") == one_function
    env = make_env("deduction", "propose", one_function=True)
    env.reset(seed=0)
    *_, info = env.step(triplet("def triple(a):\n    return a * 3", "3"))
    assert info["format_ok"] and info["task"]["program"] == "def f(a):\n    return a * 3"


def test_the_env_keeps_the_last_induction_inputs(make_env: MakeEnv) -> None:
    inputs = [f"'w{i}'" for i in range(12)]
    env = make_env("induction", "propose", induction_extra_inputs="keep_last")
    env.reset(seed=0)
    *_, info = env.step(induction(inputs, "Echo the word back."))
    assert info["format_ok"], info
    assert info["task"]["inputs"] == inputs[2:]
    strict = make_env("induction", "propose")
    strict.reset(seed=0)
    *_, info = strict.step(induction(inputs, "Echo the word back."))
    assert info["reason"] == "wrong_number_of_inputs"
    with pytest.raises(AZRConfigError, match="induction_extra_inputs"):
        make_env("induction", "propose", induction_extra_inputs="first")
