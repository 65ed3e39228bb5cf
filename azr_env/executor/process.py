"""The trusted side's handle on one sandbox process: start it, send it jobs, read results, kill
it."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from .config import ExecutorConfig
from .sandbox import framing

SANDBOX_DIR = Path(__file__).resolve().parent / "sandbox"

# Loads the sandbox package from its folder under its own name: the process imports neither
# azr_env (gymnasium, numpy) nor anything else of the caller's.
_LAUNCHER = (
    "import importlib.util as u, sys\n"
    "p = sys.argv[1]\n"
    "s = u.spec_from_file_location('azr_sandbox', p + '/__init__.py', "
    "submodule_search_locations=[p])\n"
    "m = u.module_from_spec(s); sys.modules['azr_sandbox'] = m; s.loader.exec_module(m)\n"
    "import azr_sandbox.zygote as z\n"
    "z.main(sys.argv[2:])\n"
)

# The sandbox's whole environment: nothing of the caller's (tokens, keys, proxies) is passed on.
# A fixed hash seed makes set and dict-of-str orders the same in every sandbox process, so a value
# computed in one worker compares equal to the same computation in another.
_CLEAN_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
              "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}

STARTUP_TIMEOUT_S = 60.0
_CONTROL_BYTES = 4096


def _library_paths() -> list[str]:
    """Where the sandbox finds pyseccomp, since it starts without the site module."""
    spec = importlib.util.find_spec("pyseccomp")
    if spec is None or spec.origin is None:
        return []
    return [str(Path(spec.origin).resolve().parent)]


def _libseccomp_path() -> str | None:
    """The libseccomp that pyseccomp loads here; the sandbox loads the same one."""
    try:
        import pyseccomp
    except (ImportError, OSError):
        return None
    path = getattr(pyseccomp, "_libseccomp_path", None)
    return path if isinstance(path, str) else None


class SandboxStartError(RuntimeError):
    """A sandbox process could not start or confine itself."""


class Spare:
    """A job process forked ahead by a template, waiting for its one job: the trusted side's ends
    of its two pipes."""

    __slots__ = ("job_fd", "result_fd", "seq")

    def __init__(self, seq: int, job_fd: int, result_fd: int) -> None:
        self.seq, self.job_fd, self.result_fd = seq, job_fd, result_fd

    def close(self) -> None:
        for fd in (self.job_fd, self.result_fd):
            if fd >= 0:
                os.close(fd)
        self.job_fd = self.result_fd = -1


class SandboxProcess:
    """One sandbox process tree: a template and its job processes (`job` mode), or a worker.

    In `job` mode the template announces spares on a control socket; `poll_control` collects
    them, and what the template observed of the job processes' ends (`exits`, `fork_failed`).
    """

    def __init__(self, slot: int, config: ExecutorConfig, seccomp: bool, uid_base: int) -> None:
        self.slot = slot
        self.config = config
        to_child_r, self.to_fd = os.pipe()
        self.from_fd, from_child_w = os.pipe()
        child_fds = [to_child_r, from_child_w]
        self.control: socket.socket | None = None
        control_fd = -1
        if config.isolation == "job":
            self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            self.control.setblocking(False)
            control_fd = theirs.detach()
            child_fds.append(control_fd)
        self.spares: deque[Spare] = deque()
        self.exits: dict[int, int] = {}
        self.fork_failed: str | None = None
        self.control_lost = False
        wire_config = {
            "mode": config.isolation, "in_fd": to_child_r, "out_fd": from_child_w,
            "control_fd": control_fd, "spare_processes": config.spare_processes,
            "timeout_s": config.timeout_s, "memory_mb": config.memory_mb,
            "max_output_chars": config.max_output_chars, "max_frame_bytes": config.max_frame_bytes,
            "namespaces": config.namespaces, "uid": uid_base + slot, "gid": uid_base + slot,
            # the template, its spares, and a job process not yet reaped
            "max_processes": config.spare_processes + 3, "seccomp": seccomp,
            "preload": list(config.preload), "paths": _library_paths(),
            "libseccomp": _libseccomp_path(),
        }
        # -S: no site module and no .pth files; half the fork cost of a job is page tables, and
        # site's imports double the sandbox interpreter's size. The few library paths it needs
        # (pyseccomp's) are passed explicitly.
        flags = ["-S", "-s", "-B"] + (["-P"] if sys.version_info >= (3, 11) else [])
        try:
            self.proc = subprocess.Popen(
                [sys.executable, *flags, "-c", _LAUNCHER, str(SANDBOX_DIR),
                 json.dumps(wire_config)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=tuple(child_fds), env=_CLEAN_ENV, cwd="/",
                start_new_session=True,
            )
        finally:
            for fd in child_fds:
                os.close(fd)
        self.reader = framing.FrameReader(config.max_frame_bytes)
        self.layers: dict[str, Any] = {}

    def wait_ready(self) -> None:
        """Block until the process reports that it is confined; raise `SandboxStartError` if not."""
        try:
            hello = framing.read_message(self.from_fd, self.reader,
                                         time.monotonic() + STARTUP_TIMEOUT_S)
        except framing.FrameError as exc:
            self.kill()
            raise SandboxStartError(f"sandbox process did not start: {exc}") from None
        if not hello.get("ready"):
            self.kill()
            raise SandboxStartError(
                f"sandbox process could not confine itself: {hello.get('error')}"
            )
        self.layers = dict(hello.get("layers") or {})

    def send(self, message: dict[str, Any]) -> bool:
        """Send one message; False when the process is gone."""
        return self.send_frames([framing.pack(message)])

    def send_frames(self, frames: list[bytes]) -> bool:
        """Send packed frames in one write (one wake-up of the process); False when it is gone."""
        try:
            framing.write_all(self.to_fd, b"".join(frames))
        except OSError:
            return False
        return True

    def read_available(self) -> tuple[list[dict[str, Any]], bool]:
        """Read what is there without blocking long: (messages, still_alive)."""
        try:
            chunk = os.read(self.from_fd, 1 << 16)
        except OSError:
            return [], False
        if not chunk:
            return [], False
        self.reader.feed(chunk)
        messages = []
        while (message := self.reader.pop()) is not None:
            messages.append(message)
        return messages, True

    def poll_control(self) -> None:
        """Take every message the template has sent (never blocks)."""
        if self.control is None or self.control_lost:
            return
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.control, _CONTROL_BYTES, 2)
            except BlockingIOError:
                return
            except OSError:
                data, fds = b"", []
            if not data:
                self.control_lost = True
                return
            try:
                message = json.loads(data)
            except ValueError:
                message = None
            if (
                isinstance(message, dict)
                and isinstance(message.get("spare"), int)
                and len(fds) == 2
            ):
                self.spares.append(Spare(message["spare"], fds[0], fds[1]))
                self.fork_failed = None
                continue
            for fd in fds:
                os.close(fd)
            if isinstance(message, dict) and isinstance(message.get("exit"), int):
                self.exits[message["exit"]] = int(message.get("status") or 0)
            elif isinstance(message, dict) and "fork_failed" in message:
                self.fork_failed = str(message["fork_failed"])[:200]
            else:
                self.control_lost = True  # the template never sends anything else
                return

    def end(self, seq: int) -> None:
        """Have the template kill job process `seq` (if still running) and report its end."""
        self.send({"op": "end", "seq": seq})

    def exit_signal(self, wait_s: float = 1.0) -> int | None:
        """The signal that ended the worker, if it ended by one within `wait_s` (the launcher
        exits with 128 + the signal that ended the worker, its child)."""
        try:
            code = self.proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            return None
        if code < 0:
            return -code
        return code - 128 if code > 128 else None

    def kill(self) -> None:
        """End the process and everything it started (its own session), and close its pipes."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        self.proc.wait()
        for fd in (self.to_fd, self.from_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.to_fd = self.from_fd = -1
        while self.spares:
            self.spares.popleft().close()
        if self.control is not None:
            self.control.close()
            self.control = None

    def shutdown(self) -> None:
        """Ask politely, then make sure."""
        self.send({"op": "shutdown"})
        try:
            self.proc.wait(1.0)
        except subprocess.TimeoutExpired:
            pass
        self.kill()
