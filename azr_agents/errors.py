"""Exceptions of the reference agent.

User mistakes (a bad option, a missing file, a backend this machine cannot run) raise
`AZRConfigError` with one line saying what to change. It is azr_env's exception type, so one
`except AZRConfigError` catches a bad option wherever it was given; it subclasses `ValueError`
so callers that already catch bad-value errors keep working.
"""

from __future__ import annotations

from azr_env.errors import AZRConfigError

__all__ = ["AZRConfigError"]
