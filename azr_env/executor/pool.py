"""`Executor`: a pool of sandbox processes that runs model-written Python and keeps going.

Sandbox processes start once and are reused (in `job` mode each job still gets a fresh process,
forked from a confined zygote). A process that dies, or misses its deadline, is replaced and the
pool goes on; the job is scored by what happened to it, and `infra` is kept for the executor's own
failures, never the program's.
"""

from __future__ import annotations

import secrets
import select
import signal
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

from .config import ExecutorConfig
from .jobs import PROBES, CallJob, CallManyJob, DeterminismJob, EvalJob, JobLike, ProbeJob, as_jobs
from .process import SandboxProcess, SandboxStartError
from .result import ExecResult, from_payload, infra, payload_duration
from .sandbox import framing
from .values import trees_equal

JOB_MODE_GRACE_S = 5.0
"""In `job` mode the zygote enforces the deadline; the pool waits this much longer before it
decides the zygote itself is stuck."""

WORKER_MODE_GRACE_S = 0.05
PIPE_BUDGET_BYTES = 48 * 1024


class SandboxUnavailable(RuntimeError):
    """Untrusted code cannot be confined here (not Linux, no pyseccomp, a failed self-check).

    Pass `unsafe_allow_unsandboxed=True` to run anyway, only for code you trust.
    """


def _random_uid_base() -> int:
    """A block of 256 uids no one else uses (above the range distributions hand out)."""
    return 1_000_000 + secrets.randbelow(4_000_000) * 256


def _seccomp_available() -> str | None:
    """None when seccomp can be used, else why not."""
    if not sys.platform.startswith("linux"):
        return f"seccomp needs Linux (this is {sys.platform})"
    try:
        import pyseccomp  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"pyseccomp (and libseccomp) cannot be loaded: {exc}"
    return None


class Executor:
    """Run Python programs in a seccomp sandbox; a context manager.

    >>> with Executor(timeout_s=2) as ex:
    ...     ex.run("def f(a):\\n    return a * 2", "21").value
    '42'
    """

    def __init__(self, config: ExecutorConfig | None = None, **overrides: Any) -> None:
        config = config or ExecutorConfig()
        known = {f.name for f in fields(ExecutorConfig)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            from azr_env.errors import AZRConfigError

            raise AZRConfigError(f"unknown executor option(s) {unknown}; known: {sorted(known)}")
        for name, value in overrides.items():
            setattr(config, name, value)
        config.validate()
        self.config = config
        self._processes: list[SandboxProcess | None] = []
        # Re-entrant: `run_batch` starts the pool on first use, and `start` runs its self-check
        # through `run_batch`.
        self._lock = threading.RLock()
        self._seccomp = True
        self.layers: dict[str, Any] = {}
        self.uid_base = config.sandbox_uid if config.sandbox_uid is not None else _random_uid_base()
        if config.isolation == "worker":
            warnings.warn(
                "Executor(isolation='worker') runs jobs one after another in shared processes: a "
                "job can alter what later jobs see. Use it for trusted evaluation only.",
                stacklevel=2,
            )

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Executor:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def started(self) -> bool:
        return bool(self._processes)

    def start(self) -> None:
        """Start the sandbox processes and run the self-check (idempotent, thread-safe)."""
        with self._lock:
            self._start()

    def _start(self) -> None:
        if self.started:
            return
        missing = _seccomp_available()
        if missing is not None:
            if not self.config.unsafe_allow_unsandboxed:
                raise SandboxUnavailable(
                    f"refusing to run untrusted code without a sandbox: {missing}. Pass "
                    "unsafe_allow_unsandboxed=True only if you trust every program you run."
                )
            warnings.warn(f"running WITHOUT a seccomp sandbox: {missing}", stacklevel=2)
            self._seccomp = False
        try:
            processes = [SandboxProcess(i, self.config, self._seccomp, self.uid_base)
                         for i in range(self.config.worker_count)]
            self._processes = list(processes)
            for process in processes:
                process.wait_ready()
        except SandboxStartError as exc:
            self.close()
            raise SandboxUnavailable(str(exc)) from None
        self.layers = dict(processes[0].layers, isolation=self.config.isolation)
        if self.config.self_check and self._seccomp:
            verdict = self.run_batch([ProbeJob("fork")])[0]
            if verdict.status != "forbidden":
                self.close()
                raise SandboxUnavailable(
                    f"self-check failed: a plain fork was not refused inside the sandbox "
                    f"(status {verdict.status}: {verdict.error}); refusing to run untrusted code"
                )

    def close(self) -> None:
        """Stop every sandbox process."""
        for process in self._processes:
            if process is not None:
                process.shutdown()
        self._processes = []

    def __del__(self) -> None:
        if getattr(self, "_processes", None):
            self.close()

    # -- running ---------------------------------------------------------------------------
    def run(self, program: str, args: str) -> ExecResult:
        """Evaluate `f(<args>)` after `program`; the contract's single call."""
        return self.run_batch([CallJob(program, args)])[0]

    def run_many(self, program: str, inputs: Sequence[str]) -> list[ExecResult]:
        """Run `f` on each input inside one sandboxed process; one result per input.

        If the process as a whole fails (time or memory limit, a crash, a syntax error in the
        program), every input gets that result.
        """
        outer = self.run_batch([CallManyJob(program, tuple(inputs))])[0]
        if outer.ok and len(outer.items) == len(inputs):
            return list(outer.items)
        return [outer] * len(inputs)

    def check_determinism(self, program: str, args: str, separate_processes: bool = False) -> ExecResult:
        """Call `f(<args>)` twice and compare the values.

        Returns the first call's result, or an `error` with reason `nondeterministic`. By default
        both calls share one process (the reference's check); `separate_processes=True` also
        catches programs whose output depends on the process (ids, addresses, fresh state).
        """
        if separate_processes:
            first, second = self.run_batch([CallJob(program, args), CallJob(program, args)])
        else:
            outer = self.run_batch([DeterminismJob(program, args, 2)])[0]
            if not outer.ok or len(outer.items) != 2:
                return outer
            first, second = outer.items
        return determinism_verdict(first, second)

    def evaluate(self, expression: str, program: str | None = None) -> ExecResult:
        """Evaluate an answer expression to a value (an `EvalJob`: value constructors, and the
        classes `program` defines, may be called in it)."""
        return self.run_batch([EvalJob(expression, program)])[0]

    def run_batch(self, jobs: Sequence[JobLike]) -> list[ExecResult]:
        """Run jobs in parallel across the pool; results come back in the jobs' order."""
        wires = [job.wire() for job in as_jobs(jobs)]
        if not wires:
            return []
        with self._lock:
            self.start()
            return _Dispatch(self, wires).run()

    def sandbox_report(self) -> dict[str, Any]:
        """Which protections are active, and what each forbidden-operation probe returned."""
        results = self.run_batch([ProbeJob(name) for name in PROBES])
        return {
            "seccomp": self._seccomp,
            "layers": self.layers,
            "probes": {name: r.status for name, r in zip(PROBES, results, strict=True)},
        }

    # -- process slots (used by _Dispatch) ---------------------------------------------------
    def _process(self, slot: int) -> SandboxProcess:
        process = self._processes[slot]
        if process is None:
            process = SandboxProcess(slot, self.config, self._seccomp, self.uid_base)
            process.wait_ready()
            self._processes[slot] = process
        return process

    def _replace(self, slot: int) -> None:
        process = self._processes[slot]
        if process is not None:
            process.kill()
        self._processes[slot] = None


def determinism_verdict(first: ExecResult, second: ExecResult) -> ExecResult:
    """`first` if both calls returned equal values, else an error naming the difference."""
    if not first.ok:
        return first
    if not second.ok:
        return ExecResult("error", error=f"second call failed: {second.error}",
                          reason="nondeterministic", duration_s=first.duration_s)
    if not trees_equal(first.encoded, second.encoded):
        return ExecResult("error", reason="nondeterministic", duration_s=first.duration_s,
                          error=f"first call returned {first.value}, second {second.value}")
    return first


class _Dispatch:
    """One `run_batch`: keep every process fed, collect results, replace what dies or hangs.

    Each process holds up to `pipeline_depth` jobs, so it starts the next one without waiting
    for the trusted side to read the last answer. Only the oldest job of a process is running;
    its deadline starts when the one before it finished. When a process fails, its running job
    gets the failure and the jobs queued behind it go back to the front of the queue.
    """

    def __init__(self, executor: Executor, wires: list[dict[str, Any]]) -> None:
        self.executor = executor
        self.config = executor.config
        self.results: list[ExecResult | None] = [None] * len(wires)
        self.queue: deque[tuple[int, dict[str, Any]]] = deque(enumerate(wires))
        # slot -> jobs sent, oldest (running) first: (index, nonce, wire, frame size)
        self.inflight: dict[int, deque[tuple[int, str, dict[str, Any], int]]] = {}
        self.head_started: dict[int, float] = {}
        grace = JOB_MODE_GRACE_S if self.config.isolation == "job" else WORKER_MODE_GRACE_S
        self.budget = self.config.timeout_s + grace

    def run(self) -> list[ExecResult]:
        slots = range(len(self.executor._processes))
        while self.queue or self.inflight:
            for slot in slots:
                self._fill(slot)
            if self.inflight:
                self._wait()
        return [r if r is not None else infra("job was lost") for r in self.results]

    def _fill(self, slot: int) -> None:
        """Top up `slot` to `pipeline_depth` jobs, sending them in one write."""
        room = self.config.pipeline_depth - len(self.inflight.get(slot, ()))
        if room <= 0 or not self.queue:
            return
        try:
            process = self.executor._process(slot)
        except SandboxStartError as exc:
            index, _ = self.queue.popleft()
            self.results[index] = infra(f"could not replace a sandbox process: {exc}")
            return
        # Unread frames must fit in the pipe (64 KiB), or a write could block while the process
        # runs a long job and the pool could not enforce deadlines meanwhile.
        pending = sum(size for *_, size in self.inflight.get(slot, ()))
        frames: list[bytes] = []
        sent: list[tuple[int, str, dict[str, Any], int]] = []
        while self.queue and len(sent) < room:
            index, wire = self.queue[0]
            nonce = secrets.token_hex(8)
            frame = framing.pack({"id": index, "job": dict(wire, nonce=nonce)})
            if pending and pending + len(frame) > PIPE_BUDGET_BYTES:
                break
            self.queue.popleft()
            pending += len(frame)
            frames.append(frame)
            sent.append((index, nonce, wire, len(frame)))
        if not sent:
            return
        if slot not in self.inflight:
            self.inflight[slot] = deque()
            self.head_started[slot] = time.monotonic()
        self.inflight[slot].extend(sent)
        if not process.send_frames(frames):
            self._fail(slot, infra("sandbox process was gone before the job was sent"))

    def _wait(self) -> None:
        now = time.monotonic()
        timeout = max(0.0, min(self.head_started[slot] for slot in self.inflight) + self.budget - now)
        by_fd = {self.executor._process(slot).from_fd: slot for slot in self.inflight}
        ready, _, _ = select.select(list(by_fd), [], [], timeout)
        for fd in ready:
            self._read(by_fd[fd])
        now = time.monotonic()
        for slot in list(self.inflight):
            if now >= self.head_started[slot] + self.budget:
                self._fail(slot, self._overdue())

    def _overdue(self) -> ExecResult:
        if self.config.isolation == "worker":
            return ExecResult("timeout", error="wall-clock limit exceeded", reason="time_limit")
        return infra("the sandbox zygote stopped answering")

    def _read(self, slot: int) -> None:
        process = self.executor._process(slot)
        try:
            messages, alive = process.read_available()
        except framing.FrameError as exc:
            self._fail(slot, self._tampered(str(exc)))
            return
        for payload in messages:
            index, nonce, _, _ = self.inflight[slot][0]
            broken = payload.get("id") != index
            if self.config.isolation == "worker" and payload.pop("nonce", None) != nonce:
                broken = True
            if broken:
                self._fail(slot, self._tampered("unexpected frame"))
                return
            self._complete(slot, from_payload(payload, payload_duration(payload),
                                              self.config.max_output_chars))
        if not messages and not alive:
            self._fail(slot, self._died(process))

    def _tampered(self, why: str) -> ExecResult:
        if self.config.isolation == "worker":
            return ExecResult("forbidden", reason="result_channel_tampered",
                              error=f"the program wrote to the sandbox's result channel ({why})")
        return infra(f"malformed message from the sandbox zygote ({why})")

    def _died(self, process: SandboxProcess) -> ExecResult:
        if self.config.isolation == "job":
            return infra("the sandbox zygote died")
        sig = process.exit_signal()
        if sig == signal.SIGSYS:
            return ExecResult("forbidden", reason="forbidden_operation", error="killed by the seccomp filter")
        if sig == signal.SIGXCPU:
            return ExecResult("timeout", reason="cpu_limit", error="CPU time limit exceeded")
        return ExecResult("crash", reason="no_result", error="the worker died while running the program")

    def _complete(self, slot: int, result: ExecResult) -> None:
        """The running job of `slot` finished; the next one there starts now."""
        index, *_ = self.inflight[slot].popleft()
        if result.duration_s == 0.0:
            result = replace(result, duration_s=time.monotonic() - self.head_started[slot])
        self.results[index] = result
        self.head_started[slot] = time.monotonic()
        if not self.inflight[slot]:
            del self.inflight[slot]

    def _fail(self, slot: int, result: ExecResult) -> None:
        """The process of `slot` failed: its running job gets `result`, the rest are re-queued."""
        jobs = self.inflight.pop(slot, deque())
        started = self.head_started.pop(slot, time.monotonic())
        if jobs:
            index, *_ = jobs.popleft()
            if result.duration_s == 0.0:
                result = replace(result, duration_s=time.monotonic() - started)
            self.results[index] = result
        for index, _, wire, _ in reversed(jobs):
            self.queue.appendleft((index, wire))
        self.executor._replace(slot)
