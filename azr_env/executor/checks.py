"""Answer checks for the three task types, each a batch of sandboxed jobs compared in the trusted
process.

The rules that keep these checks honest: a gold answer never enters a sandbox process, and
every comparison happens here, on value trees read as hostile bytes (`result.from_payload`).
A solver's answer is a value, never a computation (`sandbox/answers.py`), and is evaluated here,
in the trusted process, by an allowlist evaluator that runs no code of the proposer's: so the
proposer's program cannot decide the verdict on an answer. Only a deduction answer that names a
class of the program is evaluated in a sandbox with the program loaded (the program defines what
its objects are). A program that forges its result frame can thus only claim a value of its
choosing, which is no more than returning it.

Abduction calls `f` on arguments the trusted side evaluated into plain data and wrote back as
data-only source text, in a job of the same kind as the one that made the gold, in which no
solver text runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .jobs import CallManyJob, EvalJob, Job
from .per_input import run_call_many
from .pool import Executor
from .render import render_source
from .result import ExecResult, from_payload
from .sandbox import answers, codec
from .sandbox.codec import DecodeError
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
    (e.g. `defaultdict(<class 'int'>, {})`), since the text itself is then right. Other
    predictions are evaluated by `sandbox/answers.py`'s allowlist evaluator: here, in the
    trusted process, without running the proposer's program at all, unless the prediction
    names a class the program defines; only then does it go to a sandbox with the program
    loaded (the program defines what its objects are), and its value is still compared here,
    against the gold tree made when the task was validated.
    """
    limits = answers.Limits(executor.config.max_output_chars)
    verdicts: list[Verdict | None] = []
    jobs: list[Job] = []
    for check in checks:
        exact = check.prediction.strip() == check.gold_repr.strip()
        if exact and not is_unsolvable(check.gold_tree):
            verdicts.append(Verdict(True, shown=check.gold_repr))
            continue
        try:
            node = answers.parse_expression(check.prediction, limits)
        except answers.AnswerRefused as refused:
            verdicts.append(Verdict(False, refused.reason, str(refused)))
            continue
        if answers.names_in(node) & answers.program_class_names(check.program):
            verdicts.append(None)
            jobs.append(EvalJob(check.prediction, check.program))
            continue
        try:
            value = answers.evaluate(node, limits)
        except answers.AnswerRefused as refused:
            verdicts.append(Verdict(False, refused.reason, str(refused)))
            continue
        result = _trusted_result(value, executor.config.max_output_chars)
        verdicts.append(
            _compare(result, check.gold_tree) if result.ok else _failed(result, "bad_answer")
        )
    evaluated = iter(executor.run_batch(jobs))
    out = []
    for check, verdict in zip(checks, verdicts, strict=True):
        if verdict is None:
            result = next(evaluated)
            verdict = (
                _compare(result, check.gold_tree) if result.ok else _failed(result, "bad_answer")
            )
        out.append(verdict)
    return out


UNSOLVABLE_TAG = "unsolvable_output"
"""The tag of a gold kept for an output too long to compare (`azr_env.tasks.long_outputs`);
the codec never produces it, so `trees_equal` never matches such a gold."""


def is_unsolvable(tree: Any) -> bool:
    """Whether a gold tree is that marker (its shown text is a description, never an answer)."""
    return isinstance(tree, list) and len(tree) == 2 and tree[0] == UNSOLVABLE_TAG


def _trusted_result(value: Any, max_output_chars: int) -> ExecResult:
    """An `ExecResult` for a value the trusted process built itself from an answer (its text
    derived from its tree, under the same cap as a sandbox's)."""
    try:
        tree = codec.encode(value)
    except (codec.EncodeError, RecursionError):
        return ExecResult("error", reason="bad_answer",
                          error="the answer's value cannot be encoded")
    return from_payload({"status": "ok", "encoded": tree}, 0.0, max_output_chars)


@dataclass(frozen=True)
class InputCheck:
    """Abduction: does `f(<prediction>)` return the gold value?"""

    program: str
    prediction: str
    gold_tree: Any


def check_inputs(executor: Executor, checks: Sequence[InputCheck]) -> list[Verdict]:
    """Run the program on each predicted input (any input that gives the gold output is right).

    The predicted arguments are evaluated here, in the trusted process, by the allowlist
    evaluator (no program is loaded, and no call of `f` can be written), and reach the program
    as data-only source text (`argument_source`), in a job of the same kind as the one that made
    the gold (`CallManyJob` of the input twice, see `tasks/validation.py`): so the program can
    tell answer checking from validation by its arguments only.
    """
    limits = argument_limits(executor)
    verdicts: list[Verdict | None] = []
    calls: list[Job] = []
    for check in checks:
        try:
            source = argument_source(check.prediction, check.program, limits)
        except answers.AnswerRefused as refused:
            verdicts.append(Verdict(False, refused.reason, str(refused)))
            continue
        verdicts.append(None)
        calls.append(CallManyJob(check.program, (source, source)))
    called = iter(executor.run_batch(calls))
    out = []
    for check, verdict in zip(checks, verdicts, strict=True):
        if verdict is None:
            verdict = _first_call(next(called), check.gold_tree)
        out.append(verdict)
    return out


def _first_call(result: ExecResult, gold_tree: Any) -> Verdict:
    if not result.ok:
        return _failed(result, "program_error")
    if len(result.items) != 2:
        return Verdict(False, "malformed_result", "the job returned a wrong number of results")
    first = result.items[0]
    return _compare(first, gold_tree) if first.ok else _failed(first, "program_error")


ARGUMENT_CHARS = 5000
"""Inputs are bounded like a proposal's input (`max_input_chars`, 5,000 by default), not by
the output cap: `list(range(2000))` is a fair input even when no output may be that long."""


def argument_limits(executor: Executor) -> answers.Limits:
    """The size limits of call arguments evaluated here (see `ARGUMENT_CHARS`)."""
    return answers.Limits(max(executor.config.max_output_chars, ARGUMENT_CHARS))


def argument_source(text: str, program: str | None, limits: answers.Limits) -> str:
    """Call-argument text rewritten as data-only source (`[1, 2], key='v'`), or `AnswerRefused`.

    The text is evaluated by the allowlist evaluator, here; the result names nothing but value
    constructors, so evaluating it where the program is loaded runs no code of the answer's.
    """
    call = answers.parse_arguments(text, limits)
    if answers.names_in(call) & answers.program_class_names(program):
        raise answers.AnswerRefused(
            "non_data_input",
            "the input must be built from plain values "
            "(numbers, strings, containers), not objects of the program's classes",
        )
    args, kwargs = answers.evaluate_arguments(call, limits)
    try:
        tree = ["call_args", [codec.encode(a) for a in args],
                [[name, codec.encode(value)] for name, value in kwargs.items()]]
        return render_source(tree, limits.max_text)
    except (codec.EncodeError, RecursionError):
        raise answers.AnswerRefused("bad_answer", "the input cannot be encoded") from None
    except DecodeError as exc:  # an opaque part, or longer than any input may be
        raise answers.AnswerRefused(
            "non_data_input", f"the input must be plain data: {exc}"
        ) from None


@dataclass(frozen=True)
class ProgramCheck:
    """Induction: does the candidate program reproduce every (input, gold output) pair?"""

    program: str
    inputs: tuple[str, ...]
    gold_trees: tuple[Any, ...]


def check_programs(executor: Executor, checks: Sequence[ProgramCheck]) -> list[Verdict]:
    """Run each candidate on its held-out inputs in one job (or one job per input, with
    `timeout_per="input"`); correct only if all pairs match."""
    results = run_call_many(executor, [CallManyJob(c.program, c.inputs) for c in checks])
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
