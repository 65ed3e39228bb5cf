"""The operations a sandbox can run, as plain data.

Each job is one fresh sandboxed process (with `isolation="job"`). The task modules build jobs and
hand them to `Executor.run_batch`, which runs many in parallel and keeps their order. A
`(program, args)` tuple stands for a `CallJob`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CallJob:
    """Run `program`, then `f(<args>)`; `args` is call-argument source, e.g. `'a', [1, 2]`."""

    program: str
    args: str

    def wire(self) -> dict[str, Any]:
        return {"op": "call", "program": self.program, "args": self.args}


@dataclass(frozen=True)
class CallManyJob:
    """Run `program` once, then `f` on each of `inputs`: one item per input, in one process."""

    program: str
    inputs: tuple[str, ...]

    def wire(self) -> dict[str, Any]:
        return {"op": "call_many", "program": self.program, "inputs": list(self.inputs)}


@dataclass(frozen=True)
class DeterminismJob:
    """Call `f(<args>)` `repeats` times in one process (arguments evaluated afresh each time)."""

    program: str
    args: str
    repeats: int = 2

    def wire(self) -> dict[str, Any]:
        return {"op": "determinism", "program": self.program, "args": self.args,
                "repeats": self.repeats}


@dataclass(frozen=True)
class EvalJob:
    """Evaluate an answer expression with the allowlist evaluator of `sandbox/answers.py`.

    Value constructors (`Fraction(1, 2)`, `Counter(...)`) are always known; the classes
    `program` defines at its top level may be called too, which is why this runs in a sandbox
    (answers that name none are evaluated by `checks.check_outputs` in the trusted process).
    """

    expression: str
    program: str | None = None

    def wire(self) -> dict[str, Any]:
        return {"op": "eval", "expression": self.expression, "program": self.program}


@dataclass(frozen=True)
class ArgsJob:
    """Evaluate call-argument text into plain data (a `call_args` tree) without calling `f`,
    with the same evaluator as `EvalJob`."""

    args: str
    program: str | None = None

    def wire(self) -> dict[str, Any]:
        return {"op": "args", "args": self.args, "program": self.program}


@dataclass(frozen=True)
class CallEncodedJob:
    """Call `f` on arguments rebuilt from a `call_args` tree: no answer text is evaluated."""

    program: str
    encoded_args: Any

    def wire(self) -> dict[str, Any]:
        return {"op": "call_encoded", "program": self.program, "encoded_args": self.encoded_args}


PROBE_LAYERS = {
    "fork": "seccomp", "exec": "seccomp", "socket": "seccomp", "write_file": "seccomp",
    "signal_parent": "seccomp", "ipc": "seccomp", "host_processes": "pid", "host_files": "mount",
}
"""Each probe, and the layer that alone must refuse it (`seccomp`: the filter's own EPERM, where
no other layer would refuse; `pid`: no process outside the sandbox is visible in its /proc;
`mount`: `/` is the private root, without the given host paths)."""
PROBES = tuple(PROBE_LAYERS)
"""What the self-check tries on start and `Executor.sandbox_report` reports."""


@dataclass(frozen=True)
class ProbeJob:
    """Check one layer (one of `PROBES`): the self-check. `paths`: host paths the `host_files`
    probe must not see."""

    probe: str
    paths: tuple[str, ...] = ()

    def wire(self) -> dict[str, Any]:
        return {"op": "probe", "probe": self.probe, "paths": list(self.paths)}


Job = CallJob | CallManyJob | DeterminismJob | EvalJob | ArgsJob | CallEncodedJob | ProbeJob
JobLike = Job | tuple[str, str]


def as_job(job: JobLike) -> Job:
    """Accept the contract's `(program, args)` tuples beside job objects."""
    if isinstance(job, tuple):
        if len(job) != 2 or not all(isinstance(part, str) for part in job):
            raise TypeError("a job tuple must be (program: str, args: str)")
        return CallJob(job[0], job[1])
    if not hasattr(job, "wire"):
        raise TypeError(f"not a job: {type(job).__name__}")
    return job


def as_jobs(jobs: Sequence[JobLike]) -> list[Job]:
    return [as_job(job) for job in jobs]
