"""`--import MODULE`: load a user's module before the config is read.

A plugin registers things by side effect (`@register` of an estimator, `register_task_type`,
`register_backend`, `register_format`), so that the config can name them.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from azr_agents.errors import AZRConfigError


def import_plugin(spec: str) -> None:
    """Import a module by dotted name or a .py file path, for its registration side effects."""
    if spec.endswith(".py"):
        path = Path(spec)
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        if not path.is_file() or module_spec is None or module_spec.loader is None:
            raise AZRConfigError(f"--import {spec}: no such Python file")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[path.stem] = module
        module_spec.loader.exec_module(module)
        return
    try:
        importlib.import_module(spec)
    except ImportError as exc:
        raise AZRConfigError(f"--import {spec}: {exc}") from exc
