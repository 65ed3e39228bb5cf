"""Validating proposals in the sandbox, all of a step's proposals in one `run_batch`.

A proposal is valid when its static checks pass and, for every input, `f(input)` runs within the
limits, returns a value whose repr fits the output cap, and returns the same value when called
again (docs/concepts.md#a-proposal-is-valid-when). The second call happens in the same process (the
reference's check) or, with `determinism="separate_processes"`, in a second fresh process, which
also catches outputs that depend on the process (object ids, hash seeds of fresh strings, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

from azr_env.errors import AZRConfigError
from azr_env.executor import CallManyJob, ExecResult, Executor
from azr_env.executor.checks import argument_limits, argument_source
from azr_env.executor.per_input import run_call_many
from azr_env.executor.pool import determinism_verdict
from azr_env.executor.sandbox import answers
from azr_env.tasks import long_outputs
from azr_env.tasks.base import Proposal, Rejection, TaskSettings, TaskType, Validation

DETERMINISM_MODES: tuple[str, ...] = ("same_process", "separate_processes")


def check_determinism_mode(mode: str) -> str:
    """Return `mode` if known, else raise naming the choices."""
    if mode not in DETERMINISM_MODES:
        raise AZRConfigError(
            f"unknown determinism mode {mode!r}: use 'same_process' (reference: f(input) twice "
            "in one run) or 'separate_processes' (twice, in two fresh processes)"
        )
    return mode


def _as_data_source(args: str, program: str, limits: answers.Limits) -> str:
    """The input as data-only source text when it is plain data (as abduction answers are sent
    to the program, `checks.argument_source`), else as written (it may use the program's names)."""
    try:
        return argument_source(args, program, limits)
    except answers.AnswerRefused:
        return args


def _jobs(proposal: Proposal, mode: str, limits: answers.Limits) -> list[CallManyJob]:
    """Every job calls `f` on each input twice: the same kind of job that later checks an
    abduction answer, so the program cannot tell the two apart but by its arguments."""
    inputs = tuple(_as_data_source(args, proposal.program, limits) for args in proposal.inputs)
    job = CallManyJob(proposal.program, inputs + inputs)
    return [job] if mode == "same_process" else [job, job]


def _failure(result: ExecResult, where: str | None = None) -> Validation:
    if result.status == "infra":
        return Validation(False, "infra", detail=result.error, infra=True)
    reason = result.reason or result.status
    detail = f"{where}: {result.error}" if where and result.error else (result.error or where)
    return Validation(False, reason, detail=detail)


def _judge(
    task_type: TaskType, proposal: Proposal, results: Sequence[ExecResult], mode: str, step: int,
    keep_long: int | None = None,
) -> Validation:
    n = len(proposal.inputs)
    for result in results:
        if not result.ok:
            return _failure(result)
    if any(len(result.items) != 2 * n for result in results):
        # Only a job that wrote its own result frame gets here: its own fault, not the sandbox's.
        return Validation(False, "malformed_result",
                          detail="the job returned a wrong number of results")
    if mode == "same_process":
        items = results[0].items
        firsts, seconds = items[:n], items[n:]
    else:  # the first calls of two processes
        firsts, seconds = results[0].items[:n], results[1].items[:n]
    outputs: list[str] = []
    encoded: list[object] = []
    for number, (first, second) in enumerate(zip(firsts, seconds, strict=True), start=1):
        if keep_long is not None and long_outputs.too_long(first, second):
            outputs.append(long_outputs.marker_text(keep_long))
            encoded.append(long_outputs.marker_tree(keep_long))
            continue
        verdict = determinism_verdict(first, second)
        if not verdict.ok or verdict.value is None:
            return _failure(verdict, f"input {number}" if n > 1 else None)
        outputs.append(verdict.value)
        encoded.append(verdict.encoded)
    task = task_type.make_task(proposal, outputs, encoded, step)
    return Validation(True, "valid", task=task)


def validate_proposals(
    executor: Executor,
    items: Sequence[tuple[TaskType, Proposal]],
    settings: TaskSettings,
    *,
    determinism: str = "same_process",
    step: int = 0,
    static: bool = True,
    long_outputs: str = "invalid",
) -> list[Validation]:
    """Validate proposals of any task types together; one `Validation` each, in order.

    Static checks first (nothing runs for a proposal they refuse), then one `run_batch` for all
    the survivors. Valid proposals come back with their `Task` (outputs and value trees filled,
    `step` set); the others with the reason of their first failure. `static=False` skips the
    static checks, for programs that pass them by construction (the task generator's).
    `long_outputs="unsolvable"` keeps an input whose output is too long as an unsolvable gold
    (`azr_env.tasks.long_outputs`) instead of refusing the proposal.
    """
    check_determinism_mode(determinism)
    keep_long = executor.config.max_output_chars if long_outputs == "unsolvable" else None
    limits = argument_limits(executor)
    out: list[Validation | None] = []
    jobs: list[CallManyJob] = []
    spans: list[tuple[int, int]] = []
    for task_type, proposal in items:
        rejected: Rejection | None = task_type.static_check(proposal, settings) if static \
            else None
        if rejected is not None:
            out.append(Validation(False, rejected.reason, detail=rejected.detail))
            spans.append((0, 0))
            continue
        out.append(None)
        new = _jobs(proposal, determinism, limits)
        spans.append((len(jobs), len(jobs) + len(new)))
        jobs.extend(new)
    results = run_call_many(executor, jobs, repeats=2) if jobs else []
    final: list[Validation] = []
    for (task_type, proposal), done, (start, end) in zip(items, out, spans, strict=True):
        if done is None:
            done = _judge(task_type, proposal, results[start:end], determinism, step, keep_long)
        final.append(done)
    return final
