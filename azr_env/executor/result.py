"""What one sandboxed job produced, as the trusted side sees it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from .config import ExecutorConfig
from .render import OutputTooLong, render
from .sandbox.codec import DecodeError, decode, decode_call_args

Status = Literal["ok", "error", "timeout", "memory", "forbidden", "crash", "infra"]
"""`infra` is the sandbox's own failure: never scored as the model's fault."""

STATUSES: frozenset[str] = frozenset(get_args(Status))
DEFAULT_MAX_OUTPUT_CHARS = ExecutorConfig.max_output_chars


@dataclass(frozen=True)
class ExecResult:
    """The outcome of one job.

    `value` is the repr of the returned value when `status == "ok"`, rebuilt in the trusted
    process from `encoded` (the job's own text is never used, see `from_payload`); `encoded` is
    the same value as a codec tree (see `azr_env.executor.values`), which is what comparisons use.
    `reason` is a short machine-readable code (`syntax_error`, `no_entry_function`,
    `output_too_long`, `nondeterministic`, `time_limit`, ...) that the environment reports in
    `info`. Jobs over several calls (`run_many`, `check_determinism`) put one result per call in
    `items`.
    """

    status: Status
    value: str | None = None
    error: str | None = None
    duration_s: float = 0.0
    reason: str | None = None
    encoded: Any = None
    items: tuple[ExecResult, ...] = field(default=(), repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view (what `azr exec` prints)."""
        out: dict[str, Any] = {
            "status": self.status, "value": self.value, "error": self.error,
            "reason": self.reason, "duration_s": round(self.duration_s, 6),
        }
        if self.items:
            out["items"] = [item.to_dict() for item in self.items]
        return out


def infra(error: str, duration_s: float = 0.0) -> ExecResult:
    """A result for the executor's own failure."""
    return ExecResult(status="infra", error=error, reason="sandbox_failure", duration_s=duration_s)


MAX_ERROR_CHARS = 500
_REASON = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MAX_DURATION_S = 86_400.0


def malformed(why: str, duration_s: float = 0.0) -> ExecResult:
    """The job's own verdict for a result that could not be read: only a job that wrote its own
    result frame produces one (or a bug of the sandbox), so it counts as the job's error."""
    return ExecResult(status="error", reason="malformed_result", duration_s=duration_s,
                      error=f"the job's result could not be read: {why}"[:MAX_ERROR_CHARS])


def payload_duration(payload: dict[str, Any]) -> float:
    """The `duration_s` a payload reports, or 0.0 when it is not a plausible number of seconds."""
    value = payload.get("duration_s")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return 0.0
    return float(value) if 0.0 <= value <= _MAX_DURATION_S else 0.0


def from_payload(payload: dict[str, Any], duration_s: float,
                 max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS) -> ExecResult:
    """Build a result from a sandbox payload, reading it as hostile bytes.

    A job can write its own result frame, so nothing here is taken on trust: the value tree is
    read within bounds (`render` to the output cap, then `decode`), the shown text is re-derived
    from the tree (the payload's own `value` text is ignored), free-text fields are cut, and a
    payload of the wrong shape becomes the job's own `error` (`malformed_result`). Never raises.
    """
    try:
        return _read(payload, duration_s, max_output_chars, nested=False)
    except Exception as exc:  # a bug here must not take the trusted process down either
        return malformed(f"{type(exc).__name__}", duration_s)


def _read(payload: Any, duration_s: float, max_output_chars: int, nested: bool) -> ExecResult:
    if not isinstance(payload, dict):
        return malformed("an item is not an object", duration_s)
    status = payload.get("status")
    if status not in STATUSES:
        return malformed(f"unknown status {str(status)[:40]!r}", duration_s)
    error, reason = payload.get("error"), payload.get("reason")
    error = error[:MAX_ERROR_CHARS] if isinstance(error, str) else None
    reason = reason if isinstance(reason, str) and _REASON.fullmatch(reason) else None
    if status != "ok":
        return ExecResult(status=status, error=error, reason=reason, duration_s=duration_s)
    raw_items, tree = payload.get("items"), payload.get("encoded")
    if raw_items is not None:
        if nested or tree is not None or not isinstance(raw_items, list):
            return malformed("malformed items", duration_s)
        items = tuple(_read(item, 0.0, max_output_chars, nested=True) for item in raw_items)
        return ExecResult(status="ok", duration_s=duration_s, items=items)
    try:
        shown = render(tree, max_output_chars)
        # The value itself must be buildable too (no duplicate keys, hashable members).
        if type(tree) is list and tree and tree[0] == "call_args":
            decode_call_args(tree)
        else:
            decode(tree)
    except OutputTooLong:
        return ExecResult(
            status="error",
            reason="output_too_long",
            duration_s=duration_s,
            error=f"the value's text is over the cap of {max_output_chars} characters",
        )
    except DecodeError as exc:
        return malformed(str(exc), duration_s)
    return ExecResult(status="ok", value=shown, encoded=tree, duration_s=duration_s)
