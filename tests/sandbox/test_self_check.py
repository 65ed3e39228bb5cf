"""The sandbox's own probes: every forbidden operation is refused (run before any hostile case)."""

from __future__ import annotations

import pytest

from azr_env.executor import PROBES


@pytest.mark.parametrize("probe", PROBES)
def test_probe_is_refused(sandbox_report: dict[str, object], probe: str) -> None:
    probes = sandbox_report["probes"]
    assert isinstance(probes, dict)
    assert probes[probe] == "forbidden", f"the sandbox let '{probe}' through: {sandbox_report}"


def test_defence_in_depth_layers_are_active_as_root(sandbox_report: dict[str, object]) -> None:
    import os

    layers = sandbox_report["layers"]
    assert isinstance(layers, dict)
    assert sandbox_report["seccomp"] is True
    if os.geteuid() == 0:
        assert layers["uid"] != 0, "workers must drop root before running untrusted code"
        assert "net" in layers["namespaces"]
