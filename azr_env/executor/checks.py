"""Answer checks for the three task types, each a batch of sandboxed jobs compared in the trusted process.

The rule that keeps these checks honest: a gold answer never enters a sandbox process that runs
the solver's text. The solver's text is evaluated in the sandbox into a value tree, and the
comparison with the gold tree happens here. A program that forges the sandbox's result frame can
thus only claim a value of its choosing, which is no more than returning it.

Abduction takes two jobs for the same reason: the predicted input is first evaluated into plain
data (no call of `f`), then `f` is called on arguments rebuilt from that data, a job in which no
solver text runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .jobs import ArgsJob, CallEncodedJob, CallManyJob, EvalJob, Job
from .pool import Executor
from .result import ExecResult
from .values import trees_equal


@dataclass(frozen=True)
class Verdict:
    """Whether an answer is correct, and if not, why.

    `infra` marks the sandbox's own failure: the answer could not be judged, and must not be
    scored as the model's fault.
    """

    correct: bool
    reason: str | None = None
    detail: str | None = None
    infra: bool = False
    shown: str | None = None
    """What the answer evaluated to (a repr), for logs and `info`."""


_CORRECT = Verdict(True)


def _failed(result: ExecResult, fallback_reason: str) -> Verdict:
    if result.status == "infra":
        return Verdict(False, "infra", result.error, infra=True)
    reason = result.reason or fallback_reason
    return Verdict(False, reason, result.error)


def _compare(result: ExecResult, gold_tree: Any) -> Verdict:
    if trees_equal(result.encoded, gold_tree):
        return Verdict(True, shown=result.value)
    return Verdict(False, "wrong_value", f"got {result.value}", shown=result.value)


@dataclass(frozen=True)
class OutputCheck:
    """Deduction: is `prediction` (answer text) the value `f` returned?"""

    prediction: str
    gold_tree: Any
    gold_repr: str
    program: str | None = None


def check_outputs(executor: Executor, checks: Sequence[OutputCheck]) -> list[Verdict]:
    """Compare predicted outputs with gold values, as values (`{1, 2} == {2, 1}`, `'a' == "a"`).

    A prediction that is exactly the gold repr counts even when that repr is not an expression
    (e.g. `defaultdict(<class 'int'>, {})`), since the text itself is then right.
    """
    results = executor.run_batch([EvalJob(c.prediction, c.program) for c in checks])
    verdicts = []
    for check, result in zip(checks, results, strict=True):
        if check.prediction.strip() == check.gold_repr.strip():
            verdicts.append(Verdict(True, shown=check.gold_repr))
        elif result.ok:
            verdicts.append(_compare(result, check.gold_tree))
        else:
            verdicts.append(_failed(result, "bad_answer"))
    return verdicts


@dataclass(frozen=True)
class InputCheck:
    """Abduction: does `f(<prediction>)` return the gold value?"""

    program: str
    prediction: str
    gold_tree: Any


def check_inputs(executor: Executor, checks: Sequence[InputCheck]) -> list[Verdict]:
    """Run the program on each predicted input (any input that gives the gold output is right)."""
    evaluated = executor.run_batch([ArgsJob(c.prediction, c.program) for c in checks])
    calls: list[Job] = []
    for check, result in zip(checks, evaluated, strict=True):
        if result.ok:
            calls.append(CallEncodedJob(check.program, result.encoded))
    called = iter(executor.run_batch(calls))
    verdicts = []
    for check, result in zip(checks, evaluated, strict=True):
        if not result.ok:
            verdicts.append(_failed(result, "bad_answer"))
            continue
        call = next(called)
        verdicts.append(_compare(call, check.gold_tree) if call.ok else _failed(call, "program_error"))
    return verdicts


@dataclass(frozen=True)
class ProgramCheck:
    """Induction: does the candidate program reproduce every (input, gold output) pair?"""

    program: str
    inputs: tuple[str, ...]
    gold_trees: tuple[Any, ...]


def check_programs(executor: Executor, checks: Sequence[ProgramCheck]) -> list[Verdict]:
    """Run each candidate on its held-out inputs in one job; correct only if all pairs match."""
    results = executor.run_batch([CallManyJob(c.program, c.inputs) for c in checks])
    verdicts = []
    for check, result in zip(checks, results, strict=True):
        if not result.ok:
            verdicts.append(_failed(result, "program_error"))
            continue
        verdicts.append(_all_pairs(check, result.items))
    return verdicts


def _all_pairs(check: ProgramCheck, items: Sequence[ExecResult]) -> Verdict:
    if len(items) != len(check.inputs):
        # Only a job that wrote its own result frame gets here: its own fault, not the sandbox's.
        return Verdict(False, "malformed_result", "the job returned a wrong number of results")
    for number, (item, gold) in enumerate(zip(items, check.gold_trees, strict=True), start=1):
        if not item.ok:
            failed = _failed(item, "program_error")
            return Verdict(False, failed.reason, f"case {number}: {item.error}", infra=failed.infra)
        if not trees_equal(item.encoded, gold):
            return Verdict(False, "wrong_value", f"case {number}: got {item.value}")
    return _CORRECT
