"""Every knob of the executor, with its default, in one place (an omegaconf structured config)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from azr_env.errors import AZRConfigError

Isolation = Literal["job", "worker"]
TimeoutPer = Literal["job", "input"]

DEFAULT_PRELOAD = [
    # What AZR-style programs import, imported once by the template so that no job pays for it.
    # Any other standard-library module loads on demand from the sandbox's private root. Without
    # a private root (no mount namespace) a sandbox uid may be unable to read the Python install
    # (e.g. one under /root): then only preloaded modules can be imported.
    "abc", "array", "bisect", "cmath", "collections", "collections.abc", "copy", "dataclasses",
    "decimal", "enum", "fractions", "functools", "heapq", "itertools", "json", "math",
    "numbers", "operator", "re", "statistics", "string", "textwrap", "typing", "unicodedata",
    "encodings.idna", "encodings.ascii", "encodings.latin_1", "encodings.utf_16",
    "encodings.utf_32", "encodings.cp1252",
]


@dataclass
class ExecutorConfig:
    """Configuration of `Executor`; every field is also a keyword argument of `Executor`."""

    workers: int | None = None
    """Sandbox processes run in parallel; None means one per CPU core."""
    timeout_s: float = 10.0
    """Wall-clock limit of one job (the reference implementation's 10 s)."""
    timeout_per: TimeoutPer = "job"
    """`job`: `timeout_s` bounds each job, so an induction answer's held-out inputs (and a
    proposal's inputs) share it. `input`: such jobs run as one job per input, each with the whole
    `timeout_s`, as the reference gives each input 10 s (`azr_env.executor.per_input`)."""
    memory_mb: int = 1024
    """Address-space limit of one job process (RLIMIT_AS)."""
    isolation: Isolation = "job"
    """`job`: a fresh process per job (untrusted code). `worker`: jobs share a process
    (trusted evaluation only: a job can alter what the next one sees)."""
    max_output_chars: int = 1000
    """A returned value whose repr is longer is an `error` (`output_too_long`), never truncated."""
    pipeline_depth: int = 8
    """`worker` mode: jobs queued per worker, so it never waits for the trusted side between
    jobs (a running job could read the next queued one: trusted code only, again). `job` mode
    queues nothing in a sandbox: each job goes straight to a job process of its own."""
    spare_processes: int = 2
    """`job` mode: job processes each template keeps forked ahead, each waiting for one job
    (two let the next job start while the template forks the one after)."""
    max_frame_bytes: int = 1 << 20
    """Largest result message accepted from a sandbox process."""
    namespaces: bool = True
    """Enter fresh PID/network/IPC/UTS/mount namespaces and pivot into a private read-only root,
    where the kernel allows (as root, or through an unprivileged user namespace otherwise).
    `Executor.sandbox_report()` says which are active and why any is missing."""
    sandbox_uid: int | None = None
    """When started as root, worker slot i runs as uid/gid `sandbox_uid + i`. None picks a fresh
    random block of uids per executor: RLIMIT_NPROC counts all processes of a uid, so executors
    sharing uids would eat into each other's process allowance."""
    self_check: bool = True
    """On start, check that a plain fork is refused inside the sandbox; refuse to run if not."""
    unsafe_allow_unsandboxed: bool = False
    """Run without seccomp when it cannot be installed. Only for code you trust."""
    preload: list[str] = field(default_factory=lambda: list(DEFAULT_PRELOAD))

    def validate(self) -> None:
        """Raise `AZRConfigError` naming the field to change."""
        if self.workers is not None and not 1 <= self.workers <= 256:
            raise AZRConfigError(
                f"executor.workers must be between 1 and 256 (or None), got {self.workers}"
            )
        if not 0 < self.timeout_s <= 3600:
            raise AZRConfigError(
                f"executor.timeout_s must be in (0, 3600] seconds, got {self.timeout_s}"
            )
        if self.timeout_per not in ("job", "input"):
            raise AZRConfigError(
                f"executor.timeout_per must be 'job' (one timeout_s per sandbox job) or 'input' "
                f"(one timeout_s per input, the reference's), got {self.timeout_per!r}"
            )
        if not 32 <= self.memory_mb <= 1 << 20:
            raise AZRConfigError(f"executor.memory_mb must be at least 32, got {self.memory_mb}")
        if self.isolation not in ("job", "worker"):
            raise AZRConfigError(
                f"executor.isolation must be 'job' or 'worker', got {self.isolation!r}"
            )
        if self.max_output_chars < 1:
            raise AZRConfigError(
                f"executor.max_output_chars must be positive, got {self.max_output_chars}"
            )
        if not 1 <= self.pipeline_depth <= 64:
            raise AZRConfigError(
                f"executor.pipeline_depth must be in [1, 64], got {self.pipeline_depth}"
            )
        if not 1 <= self.spare_processes <= 16:
            raise AZRConfigError(
                f"executor.spare_processes must be in [1, 16], got {self.spare_processes}"
            )
        if self.max_frame_bytes < 4096:
            raise AZRConfigError("executor.max_frame_bytes must be at least 4096")
        if self.sandbox_uid is not None and not 1 <= self.sandbox_uid < 2**31 - 512:
            raise AZRConfigError(
                f"executor.sandbox_uid must be a positive uid, got {self.sandbox_uid}"
            )

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1
