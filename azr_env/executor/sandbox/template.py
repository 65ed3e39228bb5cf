"""Job mode: a template process forks job processes, and each one receives only its own job.

The template never reads a job, a program or a result. It holds the interpreter, the preloaded
modules and the compiled job filter, and keeps `spares` job processes forked ahead. Each job
process gets two pipes of its own; the template hands their trusted-side ends to the executor
over the control socket and closes its copies. The executor writes the job straight into the job
pipe and reads the result straight from the result pipe, so no sandbox process other than the job's
own ever holds its bytes: nothing of another job is on a job process's stack, in its heap, in its
module globals or behind its fds, because the process it was forked from never had any.

The template reports only what it observes as the job processes' parent: that a spare is ready,
how each one ended (its wait status), and that a fork failed. The executor asks it to end a job
process (at its deadline, or once its result is in) by sequence number.

Messages on the control socket (SOCK_SEQPACKET, one JSON object per message):
template -> executor: `{"spare": seq}` with the job pipe's write end and the result pipe's read
end attached; `{"exit": seq, "status": wait_status}`; `{"fork_failed": why}`.
executor -> template (framed, on the input pipe): `{"op": "end", "seq": seq}`, `{"op": "shutdown"}`.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
from typing import Any

from . import confine, framing, runner

_WARM_UP_JOB = {"op": "call", "program": "def f(a, b):\n    return sorted(a)[:b] + [len(a), 'x']",
                "args": "[3, 1, 2], 2"}
_CHILD_EXIT_NO_JOB = 0
_CHILD_EXIT_INTERNAL = 70
_FORK_RETRY_S = 0.02
_CONTROL_FRAME_BYTES = 4096


class _Child:
    __slots__ = ("pid", "pidfd")

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid, self.pidfd = pid, pidfd


class Template:
    """Fork job processes ahead of demand; report what becomes of them."""

    def __init__(self, config: dict[str, Any], job_filter: confine.JobFilter | None) -> None:
        self.config = config
        self.in_fd: int = config["in_fd"]
        self.control = socket.socket(fileno=config["control_fd"])
        self.job_filter = job_filter
        self.spares = int(config["spare_processes"])
        self.max_frame = int(config["max_frame_bytes"])
        self.children: dict[int, _Child] = {}
        self.next_seq = 0

    def _send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        data = json.dumps(message).encode()
        if fds:
            socket.send_fds(self.control, [data], fds)
        else:
            self.control.send(data)

    def serve(self) -> None:
        """Keep spares ready and answer the executor until it says shutdown or goes away."""
        reader = framing.FrameReader(_CONTROL_FRAME_BYTES)
        fork_failed = False
        while True:
            while len(self.children) < self.spares:
                try:
                    self._spawn()
                    fork_failed = False
                except OSError as exc:
                    if not fork_failed:
                        self._send({"fork_failed": f"{type(exc).__name__}: {exc}"})
                    fork_failed = True
                    break
            by_pidfd = {child.pidfd: seq for seq, child in self.children.items()}
            waiting = _FORK_RETRY_S if len(self.children) < self.spares else None
            ready, _, _ = select.select([self.in_fd, *by_pidfd], [], [], waiting)
            for fd in ready:
                if fd == self.in_fd:
                    chunk = os.read(self.in_fd, 1 << 16)
                    if not chunk:
                        return self._end_all()
                    reader.feed(chunk)
                    while (message := reader.pop()) is not None:
                        if message.get("op") == "shutdown":
                            return self._end_all()
                        if message.get("op") == "end":
                            self._kill(message.get("seq"))
                else:
                    self._reap(by_pidfd[fd])

    def _spawn(self) -> None:
        job_r, job_w = os.pipe2(os.O_CLOEXEC)
        res_r, res_w = os.pipe2(os.O_CLOEXEC)
        try:
            pid = os.fork()
        except OSError:
            for fd in (job_r, job_w, res_r, res_w):
                os.close(fd)
            raise
        if pid == 0:
            try:
                self._job_process(job_r, res_w)
            finally:
                os._exit(_CHILD_EXIT_INTERNAL)
        os.close(job_r)
        os.close(res_w)
        seq = self.next_seq
        self.next_seq += 1
        self.children[seq] = _Child(pid, os.pidfd_open(pid))
        try:
            self._send({"spare": seq}, [job_w, res_r])
        finally:
            os.close(job_w)
            os.close(res_r)

    def _kill(self, seq: object) -> None:
        child = self.children.get(seq) if isinstance(seq, int) else None
        if child is not None:
            try:
                os.kill(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # already ended: its pidfd is readable and `_reap` reports it

    def _reap(self, seq: int) -> None:
        child = self.children.pop(seq)
        _, status = os.waitpid(child.pid, 0)
        os.close(child.pidfd)
        self._send({"exit": seq, "status": status})

    def _end_all(self) -> None:
        for seq in list(self.children):
            self._kill(seq)
            child = self.children.pop(seq)
            os.waitpid(child.pid, 0)
            os.close(child.pidfd)

    def _job_process(self, job_r: int, res_w: int) -> None:
        """The job process: confine, warm up, take one job from its own pipe, answer, exit."""
        keep = sorted({job_r, res_w})
        os.closerange(3, keep[0])  # stdio (/dev/null) and its two pipes stay; nothing else
        os.closerange(keep[0] + 1, keep[1])
        os.closerange(keep[1] + 1, 1 << 16)
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
        frame = framing.pack(payload)
        if len(frame) > self.max_frame:
            frame = framing.pack({"status": "error", "reason": "output_too_long",
                                  "error": f"result of {len(frame)} bytes exceeds the frame cap"})
        framing.write_all(res_w, frame)
        os._exit(0)
