"""Entry point of a sandbox process: confine itself, then serve jobs from the trusted side.

Started by `azr_env.executor.pool` as a fresh interpreter (never forked from the trainer, so it
holds none of the trainer's memory or secrets), with a scrubbed environment, /dev/null as stdio,
and exactly two inherited fds: jobs in, results out.

Two modes:
- `job` (default): a zygote. It never runs untrusted code itself. For each job it hands the job to
  a pre-forked child that already holds the job filter and limits, forks the next spare, and
  watches the child with the wall-clock deadline (SIGKILL when it passes). The child writes one
  frame on a pipe of its own and exits, so no job can see or alter another's state.
- `worker`: runs jobs in-process, one after the other, for trusted evaluation where speed matters
  more than isolation between jobs. The trusted side enforces its deadline by killing it.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

from . import confine, framing, runner

_CHILD_EXIT_NO_JOB = 0
_CHILD_EXIT_INTERNAL = 70


@dataclass
class _Spare:
    """A forked, confined child waiting for its one job."""

    pid: int
    pidfd: int
    job_fd: int
    result_fd: int


class _Zygote:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.in_fd: int = config["in_fd"]
        self.out_fd: int = config["out_fd"]
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.max_frame = int(config["max_frame_bytes"])
        self.layers: dict[str, Any] = {}

    # -- setup ---------------------------------------------------------------------------
    def confine(self) -> None:
        config = self.config
        for name in ["pyseccomp", *config["preload"]]:
            try:
                __import__(name)
            except ImportError:
                pass
        is_root = os.geteuid() == 0
        self.layers["namespaces"] = confine.enter_namespaces() if is_root and config["namespaces"] else []
        confine.set_process_limits(config["max_processes"] if is_root else None)
        if is_root:
            confine.drop_privileges(config["uid"], config["gid"])
        self.layers["uid"] = os.getuid()
        self.layers["seccomp"] = bool(config["seccomp"])
        if config["mode"] == "worker":
            confine.set_job_limits(config["memory_mb"], None)
        if config["seccomp"]:
            confine.base_filter().load()
            if config["mode"] == "worker":
                confine.job_filter().load()
        os.dup2(self.devnull, 0)
        os.dup2(self.devnull, 1)
        os.dup2(self.devnull, 2)
        sys.dont_write_bytecode = True
        gc.collect()
        gc.freeze()  # keep the heap shared with forked children instead of copied by the GC

    def send(self, message: dict[str, Any]) -> None:
        framing.write_all(self.out_fd, framing.pack(message))

    # -- job mode ------------------------------------------------------------------------
    def spawn_spare(self) -> _Spare:
        job_r, job_w = os.pipe2(os.O_CLOEXEC)
        res_r, res_w = os.pipe2(os.O_CLOEXEC)
        pid = _fork_with_retry()
        if pid == 0:
            try:
                self._child(job_r, res_w)
            finally:
                os._exit(_CHILD_EXIT_INTERNAL)
        os.close(job_r)
        os.close(res_w)
        return _Spare(pid, os.pidfd_open(pid), job_w, res_r)

    def _child(self, job_r: int, res_w: int) -> None:
        # Keep stdio (/dev/null) and the two pipes of this job; everything else is closed.
        keep = sorted({job_r, res_w})
        os.closerange(3, keep[0])
        if len(keep) == 2:
            os.closerange(keep[0] + 1, keep[1])
        os.closerange(keep[-1] + 1, 1 << 16)
        confine.die_with_parent()
        confine.set_job_limits(self.config["memory_mb"], self.config["timeout_s"])
        if self.config["seccomp"]:
            confine.job_filter().load()
        try:
            job = framing.read_message(job_r, framing.FrameReader(self.max_frame))
        except framing.FrameError:
            os._exit(_CHILD_EXIT_NO_JOB)
        os.close(job_r)
        payload = runner.run_job(job, self.config["max_output_chars"])
        payload["nonce"] = job.get("nonce")
        framing.write_all(res_w, framing.pack(payload))
        os._exit(0)

    def collect(self, child: _Spare, deadline: float, nonce: object) -> dict[str, Any]:
        """Wait for the child's frame and exit; kill it at the deadline or on oversize output."""
        data = bytearray()
        outcome = ""
        reading = True
        while not outcome:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                outcome = "timeout"
                break
            watch = [child.pidfd] + ([child.result_fd] if reading else [])
            ready, _, _ = select.select(watch, [], [], remaining)
            if child.result_fd in ready:
                chunk = os.read(child.result_fd, 1 << 16)
                if chunk:
                    data += chunk
                    if len(data) > self.max_frame + framing.HEADER_SIZE:
                        outcome = "oversize"
                else:
                    reading = False
            if child.pidfd in ready and not outcome:
                outcome = "exited"
        if outcome != "exited":
            os.kill(child.pid, signal.SIGKILL)
        _, status = os.waitpid(child.pid, 0)
        if outcome == "exited" and reading:
            data += _drain(child.result_fd)
        for fd in (child.pidfd, child.result_fd):
            os.close(fd)
        return classify(outcome, status, bytes(data), self.max_frame, nonce)

    def serve_jobs(self) -> None:
        reader = framing.FrameReader(self.max_frame)
        spare: _Spare | None = None
        try:
            spare = self.spawn_spare()  # ready before the first job arrives
        except OSError:
            pass
        while True:
            try:
                message = framing.read_message(self.in_fd, reader)
            except framing.FrameError:
                message = {"op": "shutdown"}  # the trusted side is gone
            if message.get("op") == "shutdown":
                if spare is not None:
                    os.kill(spare.pid, signal.SIGKILL)
                    os.waitpid(spare.pid, 0)
                break
            started = time.monotonic()
            try:
                result, spare = self.run_one(message, spare, started)
            except OSError as exc:  # e.g. no fork possible: our failure, not the program's
                result = {"status": "infra", "reason": "sandbox_failure", "error": f"zygote: {exc}"}
            result["id"] = message["id"]
            result["duration_s"] = time.monotonic() - started
            self.send(result)

    def run_one(
        self, message: dict[str, Any], spare: _Spare | None, started: float
    ) -> tuple[dict[str, Any], _Spare | None]:
        """Hand one job to the spare child, fork the next spare, collect the result."""
        child = spare if spare is not None else self.spawn_spare()
        try:
            framing.write_all(child.job_fd, framing.pack(message["job"]))
        except OSError:
            pass  # the child died before taking its job: collect() reports how
        os.close(child.job_fd)
        try:
            spare = self.spawn_spare()  # forks while the job runs, off the next job's path
        except OSError:
            spare = None  # tried again before the next job
        deadline = started + float(self.config["timeout_s"])
        return self.collect(child, deadline, message["job"].get("nonce")), spare

    # -- worker mode -----------------------------------------------------------------------
    def serve_in_process(self) -> None:
        reader = framing.FrameReader(self.max_frame)
        while True:
            message = framing.read_message(self.in_fd, reader)
            if message.get("op") == "shutdown":
                break
            started = time.monotonic()
            payload = runner.run_job(message["job"], self.config["max_output_chars"])
            payload["id"] = message["id"]
            payload["nonce"] = message["job"].get("nonce")
            payload["duration_s"] = time.monotonic() - started
            self.send(payload)


def _fork_with_retry(patience_s: float = 5.0) -> int:
    """Fork, waiting out EAGAIN: RLIMIT_NPROC counts this uid's processes, and those of a
    previous zygote in the same slot may take a moment to be reaped after it was replaced."""
    give_up = time.monotonic() + patience_s
    while True:
        try:
            return os.fork()
        except BlockingIOError:
            if time.monotonic() > give_up:
                raise
            time.sleep(0.01)


def _drain(fd: int) -> bytes:
    """Read what an exited child left in its pipe (its write end is closed, so EOF comes)."""
    os.set_blocking(fd, False)
    data = bytearray()
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _tampered(why: str) -> dict[str, Any]:
    return {"status": "forbidden", "reason": "result_channel_tampered",
            "error": f"the program wrote to the sandbox's result channel ({why})"}


def classify(
    outcome: str, wait_status: int, data: bytes, max_frame: int, nonce: object
) -> dict[str, Any]:
    """Turn how a job process ended into a payload.

    Only a lone, whole frame carrying this job's nonce counts as a result: stray bytes, a second
    frame or a frame left over from elsewhere mark the job as having tampered with the channel.
    """
    if outcome == "timeout":
        return {"status": "timeout", "reason": "time_limit", "error": "wall-clock limit exceeded"}
    if outcome == "oversize":
        return {"status": "error", "reason": "output_too_long", "error": "result larger than the frame cap"}
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        if sig == signal.SIGXCPU:
            return {"status": "timeout", "reason": "cpu_limit", "error": "CPU time limit exceeded"}
        if sig == signal.SIGSYS:
            return {"status": "forbidden", "reason": "forbidden_operation",
                    "error": "killed by the seccomp filter"}
        if sig == signal.SIGXFSZ:
            return {"status": "forbidden", "reason": "forbidden_operation",
                    "error": "tried to grow a file"}
        return {"status": "crash", "reason": "signal", "error": f"killed by {signal.Signals(sig).name}"}
    code = os.WEXITSTATUS(wait_status)
    reader = framing.FrameReader(max_frame)
    try:
        reader.feed(data)
        payload = reader.pop()
    except framing.FrameError as exc:
        return _tampered(str(exc))
    if payload is None:
        if data:
            return _tampered("an incomplete frame")
        return {"status": "crash", "reason": "no_result",
                "error": f"exited with code {code} before reporting a result"}
    if reader.pending:
        return _tampered("bytes after the result frame")
    if payload.pop("nonce", None) != nonce:
        return _tampered("the result frame does not belong to this job")
    return payload


def main(argv: list[str]) -> None:
    config = json.loads(argv[0])
    zygote = _Zygote(config)
    try:
        zygote.confine()
    except BaseException as exc:  # noqa: BLE001 - reported to the trusted side, then exit
        zygote.send({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        sys.exit(1)
    zygote.send({"ready": True, "pid": os.getpid(), "layers": zygote.layers})
    try:
        if config["mode"] == "worker":
            zygote.serve_in_process()
        else:
            zygote.serve_jobs()
    except framing.FrameError:
        pass  # the trusted side closed the channel: shut down quietly
