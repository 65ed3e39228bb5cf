"""Entry point of a sandbox process tree: enter namespaces, confine, then serve the trusted side.

Started by `azr_env.executor.process` as a fresh interpreter (never forked from the trainer, so it
holds none of the trainer's memory or secrets), with a scrubbed environment, /dev/null as stdio,
and only its channels to the trusted side as fds.

The first process is a launcher: it enters the namespaces (`namespaces.enter`), forks the template
(PID 1 of the new PID namespace), closes every fd and only waits. The template confines itself
(private root, rlimits, uid or capabilities, seccomp) and then, by mode:
- `job` (default): forks job processes ahead of demand, each of which takes one job from a pipe of
  its own (`template.py`). The template never reads a job.
- `worker`: runs jobs in-process, one after the other, for trusted evaluation where speed matters
  more than isolation between jobs. The trusted side enforces its deadline by killing it.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from typing import Any

from . import confine, framing, namespaces, runner, template


class _Zygote:
    def __init__(self, config: dict[str, Any], entered: list[str], missing: dict[str, str]) -> None:
        self.config = config
        self.in_fd: int = config["in_fd"]
        self.out_fd: int = config["out_fd"]
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.max_frame = int(config["max_frame_bytes"])
        self.layers: dict[str, Any] = {"namespaces": entered, "missing": dict(missing)}
        self.job_filter: confine.JobFilter | None = None

    def confine(self) -> None:
        config = self.config
        if config["seccomp"]:
            _import_pyseccomp(config["libseccomp"])
        for name in config["preload"]:
            try:
                __import__(name)
            except ImportError:
                pass
        missing: dict[str, str] = self.layers["missing"]
        filesystem: list[str] = []
        if "mount" in self.layers["namespaces"]:
            try:
                filesystem, lacking = namespaces.build_root()
                missing.update(lacking)
            except Exception as exc:  # the layer is best effort; the report says why it is missing
                missing["root"] = f"could not build the private root: {type(exc).__name__}: {exc}"
        else:
            missing["root"] = "no mount namespace, so no private root: the host's files are visible"
        self.layers["filesystem"] = filesystem
        is_root = os.geteuid() == 0
        confine.set_process_limits(int(config["max_processes"]) if is_root else None)
        if is_root:
            confine.drop_privileges(config["uid"], config["gid"])
            self.layers["identity"] = f"dropped root for uid {os.getuid()}"
        elif "user" in self.layers["namespaces"]:
            namespaces.drop_capabilities()
            self.layers["identity"] = f"uid {os.getuid()}, every capability dropped"
        else:
            self.layers["identity"] = f"uid {os.getuid()} (not root: no uid change)"
        confine.make_undumpable()
        self.layers["uid"] = os.getuid()
        self.layers["seccomp"] = bool(config["seccomp"])
        if config["mode"] == "worker":
            confine.set_job_limits(config["memory_mb"], None)
        if config["seccomp"]:
            self.job_filter = confine.JobFilter()
            confine.base_filter().load()
            if config["mode"] == "worker":
                self.job_filter.load()
        else:
            missing["seccomp"] = "pyseccomp unavailable (unsafe_allow_unsandboxed=True)"
        os.dup2(self.devnull, 0)
        os.dup2(self.devnull, 1)
        os.dup2(self.devnull, 2)
        sys.dont_write_bytecode = True
        gc.collect()
        gc.freeze()  # keep the heap shared with forked children instead of copied by the GC

    def send(self, message: dict[str, Any]) -> None:
        framing.write_all(self.out_fd, framing.pack(message))

    def serve_in_process(self) -> None:
        """Worker mode: run jobs here, one after the other (trusted evaluation only)."""
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


def _launcher_wait(child: int) -> None:
    """The launcher's whole life after the fork: hold nothing, wait, and exit with the template's
    code, or 128 + the signal that ended it."""
    os.closerange(0, 1 << 16)
    while True:
        try:
            _, status = os.waitpid(child, 0)
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if os.WIFSIGNALED(status):
            os._exit(128 + os.WTERMSIG(status))
        os._exit(os.WEXITSTATUS(status))


def main(argv: list[str]) -> None:
    config = json.loads(argv[0])
    sys.path.extend(config.get("paths", []))
    out_fd = int(config["out_fd"])
    try:
        entered, missing = namespaces.enter(bool(config["namespaces"]))
        child = os.fork()
    except BaseException as exc:
        framing.write_all(out_fd,
                          framing.pack({"ready": False, "error": f"{type(exc).__name__}: {exc}"}))
        sys.exit(1)
    if child != 0:
        _launcher_wait(child)
    zygote = _Zygote(config, entered, missing)
    try:
        zygote.confine()
        job_template = (
            template.Template(config, zygote.job_filter) if config["mode"] == "job" else None
        )
    except BaseException as exc:
        zygote.send({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        os._exit(1)
    zygote.send({"ready": True, "layers": zygote.layers})
    try:
        if job_template is None:
            zygote.serve_in_process()
        else:
            job_template.serve()
    except (framing.FrameError, OSError):
        pass  # the trusted side closed its channels: shut down quietly
    os._exit(0)
