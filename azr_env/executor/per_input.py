"""A time budget per input (`ExecutorConfig.timeout_per="input"`): one job per input.

A `CallManyJob` calls `f` on several inputs in one process, under one `timeout_s`: an induction
answer's held-out inputs, or a proposal's inputs each called twice (the determinism check). The
reference code gives each input its own 10 s instead (one execution per input in `check_all`
and in its `code_f` answer check). Scaling one job's limit by its number of inputs would not be
the same (one slow input could use the others' time), and the limits are set on job processes
forked before their job arrives; so with `timeout_per="input"` such a job runs as one job per
input, each with the whole `timeout_s` and the same memory limit, and the results are put back
together in the original job's item order. The cost is a job process per input instead of one
per proposal or answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from .jobs import CallManyJob
from .pool import Executor
from .result import ExecResult, malformed


def run_call_many(
    executor: Executor, jobs: Sequence[CallManyJob], repeats: int = 1
) -> list[ExecResult]:
    """Run `jobs`, each calling `f` on `base * repeats` (every input `repeats` times, rounds in
    order), with the executor's time budget per job or per input; one result per job.

    Per input, input i's `repeats` calls share one job (so the determinism check's two calls
    stay in one process, as in the reference), and the merged result is the first failed job's
    (inputs in order), else `ok` with the items in the original order (round by round).
    """
    if executor.config.timeout_per != "input":
        return executor.run_batch(list(jobs))
    parts: list[CallManyJob] = []
    sizes: list[int] = []
    for job in jobs:
        if len(job.inputs) % repeats:
            raise ValueError(f"{len(job.inputs)} inputs are not {repeats} equal rounds")
        base = job.inputs[: len(job.inputs) // repeats]
        parts.extend(CallManyJob(job.program, (args,) * repeats) for args in base)
        sizes.append(len(base))
    results = iter(executor.run_batch(parts) if parts else [])
    return [_merge([next(results) for _ in range(n)], repeats) for n in sizes]


def _merge(results: list[ExecResult], repeats: int) -> ExecResult:
    duration = sum(r.duration_s for r in results)
    for result in results:
        if not result.ok:
            return result
        if len(result.items) != repeats:
            # Only a job that wrote its own result frame gets here: its own fault.
            return malformed("the job returned a wrong number of results", duration)
    items = tuple(result.items[k] for k in range(repeats) for result in results)
    return ExecResult("ok", duration_s=duration, items=items)
