"""The one exception type for user mistakes in azr_env.

The model's mistakes never raise: they become rewards and `info` reasons. Only a caller who
configures the environment wrongly (an unknown mode, a negative cap, ...) gets an exception, and
its message says what to change.
"""

from __future__ import annotations


class AZRConfigError(ValueError):
    """A wrong argument or configuration value; the message names the fix.

    Subclasses `ValueError` so that generic callers that already catch bad values keep working.
    """
