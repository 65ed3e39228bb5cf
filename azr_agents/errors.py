"""Exceptions of the reference agent.

User mistakes (a bad option, a missing file, a backend this machine cannot run) raise
`AZRConfigError` with one line saying what to change; it subclasses `ValueError` so callers
that already catch bad-value errors keep working.
"""

from __future__ import annotations


class AZRConfigError(ValueError):
    """A configuration or argument the user can fix; the message says how."""
