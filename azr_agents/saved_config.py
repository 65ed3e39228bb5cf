"""Run folders saved before the env config was nested under `selfplay.env` still resume.

Until 0.1.0 the run config renamed eight env options (`selfplay.references`,
`selfplay.format`, ...) and passed the rest through a free `selfplay.env` dict. A `config.yaml`
written then names those keys; `azr train --resume` and `azr export` must still read it, so
that a long run is never stranded by an upgrade. The mapping is the one the old code applied
when it built the env, so the upgraded config plays the same env.
"""

from __future__ import annotations

import copy
from typing import Any

from azr_agents.errors import AZRConfigError

# old selfplay.<name> -> its place in selfplay.env (what the old run translated it to)
RENAMED_ENV_KEYS: dict[str, tuple[str, ...]] = {
    "reward_mode": ("rewards", "mode"),
    "learnability_samples": ("rewards", "num_samples"),
    "buffer_cap": ("buffers", "cap"),
    "references": ("buffers", "num_references"),
    "format": ("format",),
    "induction_inputs": ("induction_inputs",),
    "executor_workers": ("executor", "workers"),
    "timeout_s": ("executor", "timeout_s"),
}


def upgrade_saved_config(raw: dict[str, Any]) -> dict[str, Any]:
    """`raw` (a parsed config.yaml) with any old `selfplay.<renamed>` key moved to its place in
    `selfplay.env`. A config of the current layout comes back unchanged."""
    selfplay = raw.get("selfplay")
    if not isinstance(selfplay, dict) or not any(k in selfplay for k in RENAMED_ENV_KEYS):
        return raw
    selfplay = dict(selfplay)
    env = selfplay.get("env") or {}
    if not isinstance(env, dict):
        raise AZRConfigError("selfplay.env: expected a mapping of env options")
    env = copy.deepcopy(env)
    for old, path in RENAMED_ENV_KEYS.items():
        if old not in selfplay:
            continue
        value = selfplay.pop(old)
        node = env
        for key in path[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise AZRConfigError(f"selfplay.env.{key}: expected a mapping of env options")
            node = child
        node[path[-1]] = value
    selfplay["env"] = env
    return {**raw, "selfplay": selfplay}
