"""`Executor`: a pool of sandbox processes that runs model-written Python and keeps going.

Sandbox process trees start once and are reused (in `job` mode each job still gets a fresh
process, forked from a confined template that never sees a job). A tree that dies, or stops
answering, is replaced and the pool goes on; the job is scored by what happened to it, and `infra`
is kept for the executor's own failures as the trusted side observes them, never the program's
(see `dispatch.py`).
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
import warnings
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from .config import ExecutorConfig
from .dispatch import JobDispatch, WorkerDispatch
from .jobs import (
    PROBE_LAYERS,
    PROBES,
    CallJob,
    CallManyJob,
    DeterminismJob,
    EvalJob,
    JobLike,
    ProbeJob,
    as_jobs,
)
from .process import SandboxProcess, SandboxStartError
from .result import ExecResult
from .sandbox import namespaces
from .values import trees_equal


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
        self.missing: dict[str, str] = {}
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
        self.missing = dict(self.layers.pop("missing", None) or {})
        if self.config.self_check and self._seccomp:
            failed = {name: outcome for name, outcome in self._probe().items()
                      if outcome not in ("forbidden", "skipped")}
            if failed:
                self.close()
                raise SandboxUnavailable(
                    f"self-check failed: these probes were not refused by the layer they check: "
                    f"{failed}; refusing to run untrusted code"
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

    def check_determinism(
        self, program: str, args: str, separate_processes: bool = False
    ) -> ExecResult:
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
            if self.config.isolation == "job":
                return JobDispatch(self, wires).run()
            return WorkerDispatch(self, wires).run()

    def sandbox_report(self) -> dict[str, Any]:
        """Which layers are active, why any is missing, and what each probe found.

        A probe reads `forbidden` only when the layer it checks refused (e.g. the filter's own
        EPERM), `skipped` when that layer is missing (see `missing`), and otherwise says what
        happened instead (`ok: allowed`, `error: ... (not the seccomp filter's EPERM)`).
        """
        return {
            "seccomp": self._seccomp,
            "layers": self.layers,
            "missing": self.missing,
            "probes": self._probe(),
        }

    def _layer_active(self, layer: str) -> bool:
        filesystem = self.layers.get("filesystem") or []
        if layer == "seccomp":
            return self._seccomp
        if layer == "pid":
            return "pid" in (self.layers.get("namespaces") or []) and "own /proc" in filesystem
        return "private root" in filesystem  # "mount"

    def _probe(self) -> dict[str, str]:
        names = [name for name in PROBES if self._layer_active(PROBE_LAYERS[name])]
        results = self.run_batch([ProbeJob(name, _host_only_paths()) for name in names])
        outcomes = {name: "skipped" for name in PROBES}
        for name, result in zip(names, results, strict=True):
            outcomes[name] = "forbidden" if result.status == "forbidden" else (
                f"{result.status}: {result.value if result.ok else result.error}")
        return outcomes

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


def _host_only_paths() -> tuple[str, ...]:
    """Paths that exist here but must not inside the sandbox's private root: the mount probe
    checks that it cannot see them (the caller's working directory, the host's user list)."""
    shared = [*namespaces.interpreter_paths(), *namespaces.SYSTEM_PATHS, "/tmp", "/dev", "/proc"]

    def overlaps(path: str) -> bool:
        return any(
            path == s
            or path.startswith(s.rstrip("/") + "/")
            or s.startswith(path.rstrip("/") + "/")
            for s in shared
        )

    return tuple(p for p in ("/etc/passwd", os.getcwd()) if os.path.exists(p) and not overlaps(p))


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
