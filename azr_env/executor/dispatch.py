"""One `run_batch`: move jobs through the pool's sandbox processes and turn what happens into
results.

Who decides a status: a job's own bytes (its result frame) can claim any outcome a program can
bring about itself (`ok`, `error`, `memory`, `forbidden`, ...), never `infra`. `infra` comes only
from what the trusted side observes of the sandbox: a sandbox process tree that cannot start, a
template that reports a failed fork or stops answering, a template that dies. A job that breaks
the result protocol gets its own `forbidden` verdict (`result_channel_tampered`).

- `JobDispatch` (`isolation="job"`): each slot runs one job at a time, in a spare job process of
  its template; the job is written straight into that process's own pipe and its result read
  straight from its own pipe. The trusted side keeps the deadline and has the template kill the
  process once the result is in or the deadline has passed.
- `WorkerDispatch` (`isolation="worker"`): jobs are pipelined to persistent workers that run them
  in-process (trusted evaluation only).
"""

from __future__ import annotations

import os
import secrets
import select
import signal
import time
from collections import deque
from dataclasses import replace
from typing import Any, Protocol

from .config import ExecutorConfig
from .process import SandboxProcess, SandboxStartError, Spare
from .result import DEFAULT_MAX_OUTPUT_CHARS, ExecResult, from_payload, infra, payload_duration
from .sandbox import framing


class Executor(Protocol):
    """What a dispatch needs of `azr_env.executor.pool.Executor`: its config and its slots of
    sandbox processes (a protocol, so that the pool imports the dispatch and not the reverse)."""

    config: ExecutorConfig
    _processes: list[SandboxProcess | None]

    def _process(self, slot: int) -> SandboxProcess: ...

    def _replace(self, slot: int) -> None: ...

FORK_PATIENCE_S = 2.0
"""How long a job waits for a spare while its template reports that fork fails, before the job
is given up as `infra` (RLIMIT_NPROC may refuse a fork until the last job process is reaped)."""
TEMPLATE_PATIENCE_S = 10.0
"""How long a job waits for a spare from a template that reports nothing before the template is
replaced."""
WORKER_MODE_GRACE_S = 0.05
PIPE_BUDGET_BYTES = 48 * 1024


def tampered(why: str) -> ExecResult:
    """The job broke the result protocol: its own verdict, never the sandbox's failure."""
    return ExecResult("forbidden", reason="result_channel_tampered",
                      error=f"the program wrote to the sandbox's result channel ({why})")


def _claims_infra(result: ExecResult) -> bool:
    return result.status == "infra" or any(_claims_infra(item) for item in result.items)


def job_result(payload: dict[str, Any], duration_s: float,
               max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS) -> ExecResult:
    """The result a job's own frame claims. It may claim anything a program can bring about
    itself; a claim of `infra` (or anything `from_payload` cannot make sense of) is tampering.
    The shown value is re-derived from the decoded tree under `max_output_chars`."""
    try:
        result = from_payload(payload, duration_s, max_output_chars)
    except Exception as exc:  # a malformed claim is the job's fault, never the trusted side's
        return tampered(f"unreadable result: {type(exc).__name__}")
    if _claims_infra(result):
        return tampered("the result claims the sandbox failed")
    return result


def ended_without_result(wait_status: int, pending: int) -> ExecResult:
    """A job process that ended before a whole result frame was in, by its wait status."""
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        if sig == signal.SIGXCPU:
            return ExecResult("timeout", reason="cpu_limit", error="CPU time limit exceeded")
        if sig in (signal.SIGSYS, signal.SIGXFSZ):
            return ExecResult("forbidden", reason="forbidden_operation",
                              error=f"killed by {signal.Signals(sig).name}")
        return ExecResult("crash", reason="signal", error=f"killed by {_signal_name(sig)}")
    if pending:
        return tampered("an incomplete frame")
    return ExecResult(
        "crash",
        reason="no_result",
        error=f"exited with code {os.WEXITSTATUS(wait_status)} before reporting a result",
    )


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def process_or_fail(executor: Executor, slot: int, queue: deque[tuple[int, dict[str, Any]]],
                    results: list[ExecResult | None]) -> SandboxProcess | None:
    """The sandbox process of `slot`, started anew if it died; when it cannot be started, the
    next queued job gets that fact as its `infra` result (the parent observed it) and None."""
    try:
        return executor._process(slot)
    except SandboxStartError as exc:
        index, _ = queue.popleft()
        results[index] = infra(f"could not replace a sandbox process: {exc}")
        return None


class _Running:
    """A job in a job process: its pipes, its deadline, what has come back so far."""

    __slots__ = ("eof_at", "exit_status", "index", "reader", "spare", "started")

    def __init__(self, index: int, spare: Spare, max_frame: int) -> None:
        self.index, self.spare = index, spare
        self.started = time.monotonic()
        self.reader = framing.FrameReader(max_frame)
        self.eof_at: float | None = None
        self.exit_status: int | None = None


class JobDispatch:
    """`isolation="job"`: one job at a time per slot, each in a fresh job process of its own."""

    def __init__(self, executor: Executor, wires: list[dict[str, Any]]) -> None:
        self.executor = executor
        self.config = executor.config
        self.results: list[ExecResult | None] = [None] * len(wires)
        self.queue: deque[tuple[int, dict[str, Any]]] = deque(enumerate(wires))
        self.running: dict[int, _Running] = {}
        self.waiting_since: dict[int, float] = {}

    def run(self) -> list[ExecResult]:
        slots = range(len(self.executor._processes))
        while self.queue or self.running:
            for slot in slots:
                self._start(slot)
            if self.running or self.waiting_since:
                self._wait()
        return [r if r is not None else infra("job was lost") for r in self.results]

    def _start(self, slot: int) -> None:
        """Give the next job to a spare of `slot`, if the slot is free and has one."""
        if slot in self.running or not self.queue:
            return
        process = process_or_fail(self.executor, slot, self.queue, self.results)
        if process is None:
            return
        if not process.spares:  # (otherwise `_wait` polls whenever the template has news)
            process.poll_control()
        if process.control_lost:
            self._lose(slot, "the sandbox template died")
            return
        while process.spares:
            spare = process.spares.popleft()
            index, wire = self.queue[0]
            try:
                framing.write_all(spare.job_fd, framing.pack(wire))
            except OSError:
                spare.close()  # it died before it took a job: nothing of this job's doing
                continue
            os.close(spare.job_fd)
            spare.job_fd = -1
            self.queue.popleft()
            self.running[slot] = _Running(index, spare, self.config.max_frame_bytes)
            self.waiting_since.pop(slot, None)
            return
        since = self.waiting_since.setdefault(slot, time.monotonic())
        waited = time.monotonic() - since
        if process.fork_failed is not None and waited > FORK_PATIENCE_S:
            index, _ = self.queue.popleft()
            self.results[index] = infra(
                f"the sandbox cannot fork a job process: {process.fork_failed}"
            )
            self.waiting_since.pop(slot)
        elif waited > TEMPLATE_PATIENCE_S:
            self._lose(slot, "the sandbox template stopped answering")

    def _wait(self) -> None:
        now = time.monotonic()
        wake = [since + FORK_PATIENCE_S for since in self.waiting_since.values()]
        readers: dict[int, tuple[str, int]] = {}
        for slot, job in self.running.items():
            if job.eof_at is None:
                readers[job.spare.result_fd] = ("result", slot)
            wake.append(job.started + self.config.timeout_s)
        for slot in (*self.running, *self.waiting_since):
            control = self.executor._process(slot).control
            if control is not None:
                readers[control.fileno()] = ("control", slot)
        timeout = max(0.0, min(wake, default=now + 0.05) - now)
        poller = select.poll()  # (select() cannot watch fds numbered 1024 and up)
        for fd in readers:
            poller.register(fd, select.POLLIN)
        for fd, _ in poller.poll(timeout * 1000):
            kind, slot = readers[fd]
            if kind == "control":
                self.executor._process(slot).poll_control()
            elif slot in self.running:
                self._read(slot)
        for slot in list(self.running):
            self._check(slot)

    def _read(self, slot: int) -> None:
        job = self.running[slot]
        try:
            chunk = os.read(job.spare.result_fd, 1 << 16)
        except OSError:
            chunk = b""
        if not chunk:
            job.eof_at = time.monotonic()
            return
        try:
            job.reader.feed(chunk)
            payload = job.reader.pop()
        except Exception as exc:  # any parse failure is the job's own doing
            self._finish(slot, tampered(str(exc)[:200]))
            return
        if payload is None:
            return
        if job.reader.pending:
            self._finish(slot, tampered("bytes after the result frame"))
        else:
            self._finish(slot, job_result(payload, 0.0, self.config.max_output_chars))

    def _check(self, slot: int) -> None:
        """Settle the job of `slot` from what the template reported, or from the clock."""
        job = self.running[slot]
        process = self.executor._process(slot)
        status = process.exits.pop(job.spare.seq, None)
        process.exits.clear()  # reports of job processes already settled
        if status is not None:
            job.exit_status = status
        if job.eof_at is not None and job.exit_status is not None:
            self._finish(slot, ended_without_result(job.exit_status, job.reader.pending))
        elif process.control_lost:
            self._lose(slot, "the sandbox template died")
        elif time.monotonic() >= job.started + self.config.timeout_s:
            # Still running, or ended its output but not itself: either way the job's own doing.
            self._finish(slot,
                         ExecResult("timeout", reason="time_limit",
                                    error="wall-clock limit exceeded"))

    def _finish(self, slot: int, result: ExecResult) -> None:
        job = self.running.pop(slot)
        self.results[job.index] = replace(result, duration_s=time.monotonic() - job.started)
        job.spare.close()
        self.executor._process(slot).end(job.spare.seq)

    def _lose(self, slot: int, why: str) -> None:
        """The template of `slot` failed (observed here, never claimed by a job): its running
        job, if any, is `infra`; the slot gets a new sandbox process tree."""
        job = self.running.pop(slot, None)
        if job is not None:
            self.results[job.index] = infra(why, time.monotonic() - job.started)
            job.spare.close()
        elif self.queue and slot in self.waiting_since:
            index, _ = self.queue.popleft()
            self.results[index] = infra(why)
        self.waiting_since.pop(slot, None)
        self.executor._replace(slot)


class WorkerDispatch:
    """`isolation="worker"`: keep every worker fed, collect results, replace what dies or hangs.

    Each worker holds up to `pipeline_depth` jobs, so it starts the next one without waiting
    for the trusted side to read the last answer. Only the oldest job of a worker is running;
    its deadline starts when the one before it finished. When a worker fails, its running job
    gets the failure (the job ran in it) and the jobs queued behind it go back to the queue.
    """

    def __init__(self, executor: Executor, wires: list[dict[str, Any]]) -> None:
        self.executor = executor
        self.config = executor.config
        self.results: list[ExecResult | None] = [None] * len(wires)
        self.queue: deque[tuple[int, dict[str, Any]]] = deque(enumerate(wires))
        # slot -> jobs sent, oldest (running) first: (index, nonce, wire, frame size)
        self.inflight: dict[int, deque[tuple[int, str, dict[str, Any], int]]] = {}
        self.head_started: dict[int, float] = {}
        self.budget = self.config.timeout_s + WORKER_MODE_GRACE_S
        self.send_failures = 0

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
        process = process_or_fail(self.executor, slot, self.queue, self.results)
        if process is None:
            return
        # Unread frames must fit in the pipe (64 KiB), or a write could block while the worker
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
        if process.send_frames(frames):
            return
        if len(self.inflight[slot]) > len(sent):
            self._fail(slot, self._died(process))  # it died running an earlier job
            return
        # Gone before it took any of these jobs: nothing of theirs. Try a new worker, twice.
        self.send_failures += 1
        if self.send_failures > 2:
            self._fail(slot, infra("sandbox worker was gone before the job was sent"))
            return
        del self.inflight[slot]
        self.head_started.pop(slot, None)
        for index, _, wire, _ in reversed(sent):
            self.queue.appendleft((index, wire))
        self.executor._replace(slot)

    def _wait(self) -> None:
        now = time.monotonic()
        timeout = max(0.0,
                      min(self.head_started[slot] for slot in self.inflight) + self.budget - now)
        by_fd = {self.executor._process(slot).from_fd: slot for slot in self.inflight}
        ready, _, _ = select.select(list(by_fd), [], [], timeout)
        for fd in ready:
            self._read(by_fd[fd])
        now = time.monotonic()
        for slot in list(self.inflight):
            if now >= self.head_started[slot] + self.budget:
                self._fail(slot,
                           ExecResult("timeout", error="wall-clock limit exceeded",
                                      reason="time_limit"))

    def _read(self, slot: int) -> None:
        process = self.executor._process(slot)
        try:
            messages, alive = process.read_available()
        except Exception as exc:  # the worker ran the job: a broken channel is the job's doing
            self._fail(slot, tampered(str(exc)[:200]))
            return
        for payload in messages:
            index, nonce, _, _ = self.inflight[slot][0]
            if payload.get("id") != index or payload.pop("nonce", None) != nonce:
                self._fail(slot, tampered("unexpected frame"))
                return
            self._complete(slot, job_result(payload, payload_duration(payload),
                                            self.config.max_output_chars))
        if not messages and not alive:
            self._fail(slot, self._died(process))

    @staticmethod
    def _died(process: SandboxProcess) -> ExecResult:
        sig = process.exit_signal()
        if sig == signal.SIGSYS:
            return ExecResult("forbidden", reason="forbidden_operation",
                              error="killed by the seccomp filter")
        if sig == signal.SIGXCPU:
            return ExecResult("timeout", reason="cpu_limit", error="CPU time limit exceeded")
        return ExecResult("crash", reason="no_result",
                          error="the worker died while running the program")

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
        """The worker of `slot` failed: its running job gets `result`, the rest are re-queued."""
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
