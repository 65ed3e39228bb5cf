"""Executor behaviour on ordinary programs: values, errors, limits, ordering, configuration."""

from __future__ import annotations

import pytest

from azr_env.errors import AZRConfigError
from azr_env.executor import (
    ArgsJob,
    CallEncodedJob,
    CallJob,
    EvalJob,
    ExecResult,
    Executor,
    ExecutorConfig,
    SandboxUnavailable,
)
from azr_env.executor import pool as pool_module
from azr_env.executor.values import trees_equal

IDENTITY = "def f(a):\n    return a"


def test_run_returns_repr_and_value_tree(executor: Executor) -> None:
    result = executor.run("def f(a, b=2):\n    return {a: [b, 'x']}", "'k', b=3")
    assert result.status == "ok"
    assert result.value == "{'k': [3, 'x']}"
    assert trees_equal(result.encoded,
                       ["dict", [[["str", "k"], ["list", [["int", "0x3"], ["str", "x"]]]]]])
    assert result.duration_s > 0


def test_run_batch_keeps_order_across_workers(executor: Executor) -> None:
    jobs = [("def f(a):\n    return a * a", str(i)) for i in range(40)]
    results = executor.run_batch(jobs)
    assert [r.value for r in results] == [str(i * i) for i in range(40)]
    assert executor.run_batch([]) == []


@pytest.mark.parametrize(
    ("program", "args", "status", "reason"),
    [
        ("def f(a:\n    return a", "1", "error", "syntax_error"),
        ("def g(a):\n    return a", "1", "error", "no_entry_function"),
        ("x = 1 / 0\ndef f(a):\n    return a", "1", "error", "program_error"),
        (IDENTITY, "1,, 2", "error", "bad_input"),
        (IDENTITY, "undefined_name", "error", "bad_input"),
        ("def f(a):\n    raise ValueError('nope')", "1", "error", "program_error"),
        ("def f(a):\n    return f(a)", "1", "error", "recursion_limit"),
        ("def f(a):\n    return 'x' * 1001", "1", "error", "output_too_long"),
        ("def f(a):\n    return 'x' * 998", "1", "ok", None),
        ("def f(a):\n    while True: pass", "1", "timeout", "time_limit"),
        ("def f(a):\n    return bytearray(10**9)", "1", "memory", "memory_limit"),
        ("import sys\ndef f(a):\n    sys.exit(3)", "1", "error", "program_error"),
    ],
)
def test_failures_get_a_status_and_a_named_reason(
    executor: Executor, program: str, args: str, status: str, reason: str | None
) -> None:
    result = executor.run(program, args)
    assert (result.status, result.reason) == (status, reason), result
    if status != "ok":
        assert result.error


def test_error_messages_are_short_and_name_the_exception(executor: Executor) -> None:
    result = executor.run("def f(a):\n    raise KeyError('k' * 10000)", "1")
    assert result.error is not None and result.error.startswith("KeyError")
    assert len(result.error) <= 500


def test_trailing_comment_in_arguments_does_not_break_the_call(executor: Executor) -> None:
    assert executor.run(IDENTITY, "5  # five").value == "5"


def test_allowed_imports_and_helpers_work(executor: Executor) -> None:
    program = (
        "from fractions import Fraction\nimport math, itertools, heapq, re\n"
        "class Acc:\n    def __init__(self):\n        self.n = 0\n"
        "def helper(x):\n    return math.gcd(x, 12)\n"
        "def f(a):\n    acc = Acc()\n    acc.n = helper(a)\n    return Fraction(acc.n, 8)"
    )
    result = executor.run(program, "18")
    assert result.ok and result.value == "Fraction(3, 4)"


def test_run_many_gives_one_result_per_input_and_shares_failures(executor: Executor) -> None:
    results = executor.run_many("def f(a):\n    return 10 // a", ["1", "0", "5"])
    assert [r.status for r in results] == ["ok", "error", "ok"]
    assert [r.value for r in results] == ["10", None, "2"]
    broken = executor.run_many("def f(a:", ["1", "2"])
    assert [r.reason for r in broken] == ["syntax_error", "syntax_error"]


def test_check_determinism_flags_programs_that_change_their_answer(executor: Executor) -> None:
    counter = "calls = []\ndef f(a):\n    calls.append(a)\n    return len(calls)"
    assert executor.check_determinism(counter, "1").reason == "nondeterministic"
    assert executor.check_determinism(IDENTITY, "[1, 2]").ok
    # id() differs between processes but not between two calls on one fresh object each time
    by_process = "import os\nSTART = id(object())\ndef f(a):\n    return START % 1000"
    assert executor.check_determinism(by_process, "1").ok
    assert executor.check_determinism(IDENTITY, "1", separate_processes=True).ok


def test_set_order_of_strings_is_the_same_in_every_sandbox_process(executor: Executor) -> None:
    program = "def f(a):\n    return list({'apple', 'pear', 'fig', 'kiwi', 'plum', 'lime'})"
    values = {r.value for r in executor.run_batch([(program, "0")] * 6)}
    assert len(values) == 1


def test_evaluate_knows_value_constructors_and_the_program_classes_only(executor: Executor) -> None:
    program = "from fractions import Fraction\ndef f(a):\n    return Fraction(a, 2)"
    result = executor.evaluate("Fraction(1, 2)", program)
    assert result.ok and trees_equal(result.encoded, executor.run(program, "1").encoded)
    assert executor.evaluate("Fraction(1, 2)").ok  # a value constructor, program or not
    point = "class P:\n    def __init__(self, x):\n        self.x = x\n    def __repr__(self):\n" \
            "        return f'P({self.x})'\ndef f(a):\n    return P(a)"
    assert executor.evaluate("P(3)", point).value == "P(3)"
    assert executor.evaluate("P(3)").reason == "not_a_value"
    assert executor.evaluate("f(3)", point).reason == "not_a_value"


def test_args_job_returns_plain_data_and_call_encoded_uses_it(executor: Executor) -> None:
    parsed, = executor.run_batch([ArgsJob("[1, 2], key='v'")])
    assert parsed.ok and parsed.encoded[0] == "call_args"
    (called,) = executor.run_batch(
        [CallEncodedJob("def f(xs, key):\n    return key * len(xs)", parsed.encoded)]
    )
    assert called.value == "'vv'"
    objects, = executor.run_batch([ArgsJob("P()", "class P:\n    pass\ndef f(a):\n    return a")])
    assert objects.reason == "non_data_input"


def test_jobs_accept_tuples_and_objects_and_refuse_garbage(executor: Executor) -> None:
    a, b = executor.run_batch([(IDENTITY, "1"), CallJob(IDENTITY, "2")])
    assert (a.value, b.value) == ("1", "2")
    with pytest.raises(TypeError):
        executor.run_batch([("only one",)])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        executor.run_batch([42])  # type: ignore[list-item]


def test_exec_result_to_dict_is_json_friendly() -> None:
    result = ExecResult("ok", value="1", duration_s=0.5, items=(ExecResult("error", error="x"),))
    assert result.to_dict()["items"][0]["status"] == "error"


@pytest.mark.parametrize(
    "options",
    [{"workers": 0}, {"timeout_s": -1}, {"memory_mb": 1}, {"isolation": "none"},
     {"max_output_chars": 0}, {"no_such_option": 1}],
)
def test_bad_configuration_raises_one_clear_error(options: dict[str, object]) -> None:
    with pytest.raises(AZRConfigError, match=r"executor|unknown"):
        Executor(**options)  # type: ignore[arg-type]


def test_missing_seccomp_is_refused_unless_the_user_opts_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool_module, "_seccomp_available", lambda: "pyseccomp is not installed")
    with pytest.raises(SandboxUnavailable, match="unsafe_allow_unsandboxed"):
        Executor(workers=1).start()
    with pytest.warns(UserWarning, match="WITHOUT a seccomp sandbox"), \
            Executor(workers=1, timeout_s=2, unsafe_allow_unsandboxed=True) as ex:
        assert ex.run(IDENTITY, "7").value == "7"
        assert ex.sandbox_report()["seccomp"] is False


def test_worker_isolation_warns_and_works() -> None:
    with pytest.warns(UserWarning, match="trusted evaluation only"):
        ex = Executor(ExecutorConfig(workers=1, timeout_s=1.0, isolation="worker"))
    with ex:
        assert ex.run(IDENTITY, "'w'").value == "'w'"
        timed_out = ex.run("def f(a):\n    while True: pass", "1")
        assert timed_out.status == "timeout"
        assert ex.run(IDENTITY, "3").value == "3"  # the worker was replaced


def test_eval_job_on_a_literal(executor: Executor) -> None:
    result, = executor.run_batch([EvalJob("{2, 1}")])
    assert result.value == "{1, 2}"


def test_an_executor_starts_on_first_use_and_closes_cleanly() -> None:
    ex = Executor(workers=1, timeout_s=2.0)
    try:
        assert not ex.started
        assert ex.run(IDENTITY, "'lazy'").value == "'lazy'"
        assert ex.started
    finally:
        ex.close()
    assert not ex.started
