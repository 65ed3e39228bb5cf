"""The sandboxed executor: runs model-written Python under seccomp, rlimits and a dropped uid.

`Executor` is the entry point (a context manager). The answer checks the task types need are in
`azr_env.executor.checks`; value comparison is in `azr_env.executor.values`.
"""

from .checks import Verdict
from .config import DEFAULT_PRELOAD, ExecutorConfig
from .jobs import (
    PROBE_LAYERS,
    PROBES,
    ArgsJob,
    CallEncodedJob,
    CallJob,
    CallManyJob,
    DeterminismJob,
    EvalJob,
    Job,
    ProbeJob,
)
from .pool import Executor, SandboxUnavailable
from .result import STATUSES, ExecResult, Status

__all__ = [
    "DEFAULT_PRELOAD", "PROBES", "PROBE_LAYERS", "STATUSES", "ArgsJob", "CallEncodedJob",
    "CallJob", "CallManyJob", "DeterminismJob", "EvalJob", "ExecResult", "Executor",
    "ExecutorConfig", "Job", "ProbeJob", "SandboxUnavailable", "Status", "Verdict",
]
