"""`ExecutorConfig.timeout_per="input"`: each input of a many-input job gets the whole
`timeout_s` (the reference's 10 s per input), by one job per input (`executor/per_input.py`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest

from azr_env.errors import AZRConfigError
from azr_env.executor import CallManyJob, ExecResult, Executor, ExecutorConfig
from azr_env.executor.checks import ProgramCheck, check_programs
from azr_env.executor.per_input import run_call_many
from azr_env.executor.sandbox import codec


@dataclass
class _Recorder:
    """Stands in for an `Executor`: records the jobs and answers each call with its input."""

    config: ExecutorConfig
    batches: list[list[CallManyJob]] = field(default_factory=list)

    def run_batch(self, jobs: Sequence[CallManyJob]) -> list[ExecResult]:
        self.batches.append(list(jobs))
        return [ExecResult("ok", items=tuple(ExecResult("ok", value=a) for a in job.inputs))
                for job in jobs]


@pytest.mark.parametrize("per", ["job", "input"])
def test_per_input_splits_jobs_and_keeps_the_item_order(per: str) -> None:
    recorder = _Recorder(ExecutorConfig(timeout_per=per))  # type: ignore[arg-type]
    jobs = [CallManyJob("p1", ("1", "2", "3", "1", "2", "3")), CallManyJob("p2", ("9", "9"))]
    results = run_call_many(recorder, jobs, repeats=2)  # type: ignore[arg-type]
    sent = recorder.batches[0]
    if per == "job":
        assert sent == jobs
    else:  # one job per input, its two determinism calls together, in input order
        assert sent == [CallManyJob("p1", ("1", "1")), CallManyJob("p1", ("2", "2")),
                        CallManyJob("p1", ("3", "3")), CallManyJob("p2", ("9", "9"))]
    assert [[i.value for i in r.items] for r in results] == [
        ["1", "2", "3", "1", "2", "3"], ["9", "9"]]


@pytest.fixture(scope="module", params=["job", "input"])
def timed(request: pytest.FixtureRequest) -> Iterator[Executor]:
    with Executor(workers=2, timeout_s=1.5, memory_mb=256, timeout_per=request.param) as ex:
        yield ex


def test_four_inputs_of_half_a_second_fit_only_a_budget_per_input(timed: Executor) -> None:
    program = "import time\ndef f(a):\n    time.sleep(a)\n    return a"
    inputs = ("0.5",) * 4  # 2 s in one job, over its 1.5 s; 0.5 s in each job of their own
    verdict, = check_programs(timed, [ProgramCheck(program, inputs, (codec.encode(0.5),) * 4)])
    if timed.config.timeout_per == "input":
        assert verdict.correct, verdict
    else:
        assert not verdict.correct and verdict.reason == "time_limit", verdict


def test_a_failing_input_fails_the_merged_result(timed: Executor) -> None:
    program = "def f(a):\n    return 1 // a"
    result, = run_call_many(timed, [CallManyJob(program, ("1", "0", "2"))])
    assert result.ok and [i.status for i in result.items] == ["ok", "error", "ok"]


def test_timeout_per_is_checked() -> None:
    with pytest.raises(AZRConfigError, match="timeout_per"):
        ExecutorConfig(timeout_per="call").validate()  # type: ignore[arg-type]
