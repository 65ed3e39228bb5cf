"""What one sandboxed job produced, as the trusted side sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

Status = Literal["ok", "error", "timeout", "memory", "forbidden", "crash", "infra"]
"""`infra` is the sandbox's own failure: never scored as the model's fault."""

STATUSES: frozenset[str] = frozenset(get_args(Status))


@dataclass(frozen=True)
class ExecResult:
    """The outcome of one job.

    `value` is the repr of the returned value when `status == "ok"`; `encoded` is the same value
    as a codec tree (see `azr_env.executor.values`), which is what comparisons use. `reason` is a
    short machine-readable code (`syntax_error`, `no_entry_function`, `output_too_long`,
    `nondeterministic`, `time_limit`, ...) that the environment reports in `info`. Jobs over
    several calls (`run_many`, `check_determinism`) put one result per call in `items`.
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


def from_payload(payload: dict[str, Any], duration_s: float) -> ExecResult:
    """Build a result from a sandbox payload, keeping only well-typed fields.

    The payload crossed a trust boundary; anything malformed is the sandbox's failure (`infra`),
    and free-text fields are cut so that a flood cannot travel further.
    """
    status = payload.get("status")
    if status not in STATUSES:
        return infra(f"sandbox returned an unknown status {status!r}", duration_s)
    raw_items = payload.get("items") or []
    if not isinstance(raw_items, list):
        return infra("sandbox returned malformed items", duration_s)
    items = tuple(from_payload(item, 0.0) if isinstance(item, dict) else infra("bad item")
                  for item in raw_items)
    value, error, reason = (payload.get(k) for k in ("value", "error", "reason"))
    return ExecResult(
        status=status,
        value=value if isinstance(value, str) else None,
        error=error[:500] if isinstance(error, str) else None,
        reason=reason[:64] if isinstance(reason, str) else None,
        encoded=payload.get("encoded"),
        duration_s=duration_s,
        items=items,
    )
