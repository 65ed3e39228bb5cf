"""Entry point of a sandbox process: confine itself, then serve jobs from the trusted side.

Started by `azr_env.executor.pool` as a fresh interpreter (never forked from the trainer, so it
holds none of the trainer's memory or secrets), with a scrubbed environment, /dev/null as stdio,
and exactly two inherited fds: jobs in, results out.

Two modes:
- `job` (default): a zygote. It never runs untrusted code itself. For each job it hands the job to
  a pre-forked, warmed-up child that already holds the job filter and limits, watches it with the
  wall-clock deadline (SIGKILL when it passes), answers, then forks the next spare. The child writes one
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
from typing import Any

from . import confine, framing, runner

_WARM_UP_JOB = {"op": "call", "program": "def f(a, b):\n    return sorted(a)[:b] + [len(a), 'x']",
                "args": "[3, 1, 2], 2"}
_CHILD_EXIT_NO_JOB = 0
_CHILD_EXIT_INTERNAL = 70


class _Spare:
    """A forked, confined child waiting for its one job."""

    __slots__ = ("job_fd", "pid", "pidfd", "reaped", "result_fd")

    def __init__(self, pid: int, pidfd: int, job_fd: int, result_fd: int) -> None:
        self.pid, self.pidfd, self.job_fd, self.result_fd = pid, pidfd, job_fd, result_fd
        self.reaped = False


class _Zygote:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.in_fd: int = config["in_fd"]
        self.out_fd: int = config["out_fd"]
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.max_frame = int(config["max_frame_bytes"])
        self.layers: dict[str, Any] = {}
        self.job_filter: confine.JobFilter | None = None
        self.zombies: list[int] = []

    # -- setup ---------------------------------------------------------------------------
    def confine(self) -> None:
        config = self.config
        if config["seccomp"]:
            _import_pyseccomp(config["libseccomp"])
        for name in config["preload"]:
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
            self.job_filter = confine.JobFilter()
            confine.base_filter().load()
            if config["mode"] == "worker":
                self.job_filter.load()
        os.dup2(self.devnull, 0)
        os.dup2(self.devnull, 1)
        os.dup2(self.devnull, 2)
        sys.dont_write_bytecode = True
        gc.collect()
        gc.freeze()  # keep the heap shared with forked children instead of copied by the GC

    def send(self, message: dict[str, Any]) -> None:
        framing.write_all(self.out_fd, framing.pack(message))

    # -- job mode ------------------------------------------------------------------------
    def spawn_spare(self, patience_s: float) -> _Spare:
        job_r, job_w = os.pipe2(os.O_CLOEXEC)
        res_r, res_w = os.pipe2(os.O_CLOEXEC)
        try:
            pid = _fork_with_retry(patience_s)
        except OSError:
            for fd in (job_r, job_w, res_r, res_w):
                os.close(fd)
            raise
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
        if self.job_filter is not None:
            self.job_filter.load()
        # Touch, while idle, the pages a job touches: the copy-on-write faults (about half a
        # millisecond) then happen before the job arrives instead of while the caller waits.
        framing.pack(runner.run_job(dict(_WARM_UP_JOB), self.config["max_output_chars"]))
        try:
            job = framing.read_message(job_r, framing.FrameReader(self.max_frame))
        except framing.FrameError:
            os._exit(_CHILD_EXIT_NO_JOB)
        os.close(job_r)
        payload = runner.run_job(job, self.config["max_output_chars"])
        payload["nonce"] = job.get("nonce")
        frame = framing.pack(payload)
        if len(frame) > self.max_frame:
            # Only the harness writes frames this size honestly; the reader treats oversize as tampering.
            frame = framing.pack({"status": "error", "reason": "output_too_long", "nonce": job.get("nonce"),
                                  "error": f"result of {len(frame)} bytes exceeds the frame cap"})
        framing.write_all(res_w, frame)
        os._exit(0)

    def collect(self, child: _Spare, deadline: float, nonce: object) -> dict[str, Any]:
        """Wait for the child's result frame, its end, or the deadline, whichever comes first.

        Answers as soon as a whole frame is in: the child has nothing left to do but exit, and
        `reap` ends it after the answer is on its way.
        """
        reader = framing.FrameReader(self.max_frame)
        reading = True
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {"status": "timeout", "reason": "time_limit", "error": "wall-clock limit exceeded"}
            watch = [child.result_fd, child.pidfd] if reading else [child.pidfd]
            ready, _, _ = select.select(watch, [], [], remaining)
            if child.result_fd in ready:
                chunk = os.read(child.result_fd, 1 << 16)
                if not chunk:
                    reading = False
                    continue
                try:
                    reader.feed(chunk)
                    payload = reader.pop()
                except framing.FrameError as exc:
                    return _tampered(str(exc))
                if payload is not None:
                    return _checked(payload, reader, nonce)
            elif child.pidfd in ready:
                _, status = os.waitpid(child.pid, 0)
                child.reaped = True
                try:
                    reader.feed(_drain(child.result_fd))
                    payload = reader.pop()
                except framing.FrameError as exc:
                    return _tampered(str(exc))
                if payload is not None:
                    return _checked(payload, reader, nonce)
                return _ended_without_result(status, reader.pending)

    def reap(self, child: _Spare) -> None:
        """End the child without waiting for the kernel to tear it down; `collect_zombies`
        reaps it later, off the path of the next answer."""
        if not child.reaped:
            try:
                os.kill(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.zombies.append(child.pid)
        for fd in (child.pidfd, child.result_fd):
            os.close(fd)

    def collect_zombies(self, keep: int) -> None:
        """Reap ended children; block on the oldest while more than `keep` are pending (each
        counts against RLIMIT_NPROC until reaped)."""
        pending = []
        for pid in self.zombies:
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                pending.append(pid)
        while len(pending) > keep:
            os.waitpid(pending.pop(0), 0)
        self.zombies = pending

    def serve_jobs(self) -> None:
        reader = framing.FrameReader(self.max_frame)
        spare = self.try_spawn_spare(patience_s=2.0)  # ready before the first job arrives
        while True:
            try:
                message = framing.read_message(self.in_fd, reader)
            except framing.FrameError:
                message = {"op": "shutdown"}  # the trusted side is gone
            if message.get("op") == "shutdown":
                if spare is not None:
                    self.reap(spare)
                self.collect_zombies(keep=0)
                break
            started = time.monotonic()
            child = spare if spare is not None else self.try_spawn_spare(patience_s=2.0)
            result: dict[str, Any]
            if child is None:
                result = {"status": "infra", "reason": "sandbox_failure", "error": "zygote: cannot fork"}
            else:
                self.dispatch(child, message["job"])
            if child is not None:
                deadline = started + float(self.config["timeout_s"])
                result = self.collect(child, deadline, message["job"].get("nonce"))
            result["id"] = message["id"]
            result["duration_s"] = time.monotonic() - started
            self.send(result)
            # Only now, with the answer on its way: clean up and fork the next spare (the fork is
            # most of a job's cost; if the process limit says no just now, the next job retries).
            if child is not None:
                self.reap(child)
            spare = self.try_spawn_spare(patience_s=0.0)
            self.collect_zombies(keep=2)

    def dispatch(self, child: _Spare, job: dict[str, Any]) -> None:
        try:
            framing.write_all(child.job_fd, framing.pack(job))
        except OSError:
            pass  # the child died before taking its job: collect() reports how
        os.close(child.job_fd)

    def try_spawn_spare(self, patience_s: float) -> _Spare | None:
        try:
            return self.spawn_spare(patience_s)
        except OSError:
            return None  # tried again before the next job; reported as infra if it persists

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


def _import_pyseccomp(library_path: str | None) -> None:
    """Import pyseccomp without its `ctypes.util.find_library` call.

    That call imports subprocess, shutil, lzma and more, which doubles this process's memory map
    and so the fork and exit cost of every job. The trusted side resolved the library path with
    the same call already; a stand-in `ctypes.util` answers from it during the import.
    """
    import ctypes
    import types

    stub = types.ModuleType("ctypes.util")
    stub.find_library = lambda name: library_path if name == "seccomp" else None  # type: ignore[attr-defined]
    saved = sys.modules.get("ctypes.util")
    sys.modules["ctypes.util"] = stub
    ctypes.util = stub  # type: ignore[attr-defined]
    try:
        import pyseccomp  # noqa: F401
    finally:
        if saved is None:
            del sys.modules["ctypes.util"]
            del ctypes.util  # type: ignore[attr-defined]
        else:
            sys.modules["ctypes.util"] = saved
            ctypes.util = saved  # type: ignore[attr-defined]


def _fork_with_retry(patience_s: float) -> int:
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


def _checked(payload: dict[str, Any], reader: framing.FrameReader, nonce: object) -> dict[str, Any]:
    """Only a lone, whole frame carrying this job's nonce counts as the job's result."""
    if reader.pending:
        return _tampered("bytes after the result frame")
    if payload.pop("nonce", None) != nonce:
        return _tampered("the result frame does not belong to this job")
    return payload


def _ended_without_result(wait_status: int, pending: int) -> dict[str, Any]:
    """Describe a job process that ended before it reported a result."""
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        if sig == signal.SIGXCPU:
            return {"status": "timeout", "reason": "cpu_limit", "error": "CPU time limit exceeded"}
        if sig in (signal.SIGSYS, signal.SIGXFSZ):
            return {"status": "forbidden", "reason": "forbidden_operation",
                    "error": f"killed by {signal.Signals(sig).name}"}
        return {"status": "crash", "reason": "signal", "error": f"killed by {signal.Signals(sig).name}"}
    if pending:
        return _tampered("an incomplete frame")
    return {"status": "crash", "reason": "no_result",
            "error": f"exited with code {os.WEXITSTATUS(wait_status)} before reporting a result"}


def main(argv: list[str]) -> None:
    config = json.loads(argv[0])
    sys.path.extend(config.get("paths", []))
    zygote = _Zygote(config)
    try:
        zygote.confine()
    except BaseException as exc:
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
