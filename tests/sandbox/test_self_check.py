"""The sandbox's own probes: each layer refuses what it must, and the self-check notices when a
layer is missing (run before any hostile case).

Each probe must be refused *by the layer it checks* (the filter's own EPERM, where file
permissions or a missing file would not refuse; a /proc and a root that are the sandbox's own), so
breaking one layer while the others hold makes the executor refuse to start.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from azr_env.executor import PROBE_LAYERS, PROBES, Executor, SandboxUnavailable, process


@pytest.mark.parametrize("probe", PROBES)
def test_probe_is_refused(sandbox_report: dict[str, object], probe: str) -> None:
    probes = sandbox_report["probes"]
    missing = sandbox_report["missing"]
    assert isinstance(probes, dict) and isinstance(missing, dict)
    if probes[probe] == "skipped":
        assert missing, (
            f"'{probe}' was skipped though no layer is reported missing: {sandbox_report}"
        )
        pytest.skip(f"layer '{PROBE_LAYERS[probe]}' is missing here: {missing}")
    assert probes[probe] == "forbidden", f"the sandbox let '{probe}' through: {sandbox_report}"


def test_defence_in_depth_layers_are_active_as_root(sandbox_report: dict[str, object]) -> None:
    layers = sandbox_report["layers"]
    assert isinstance(layers, dict)
    assert sandbox_report["seccomp"] is True
    if os.geteuid() == 0:
        assert layers["uid"] != 0, "workers must drop root before running untrusted code"
        assert set(layers["namespaces"]) >= {"pid", "net", "ipc", "uts", "mount"}, layers
        assert {"private root", "own /proc"} <= set(layers["filesystem"]), sandbox_report


# One layer broken at a time, in a copy of the sandbox package: (file, [(old, new)], the probe
# that must catch it). The other layers stay whole, so only the probe's own layer can refuse.
BROKEN = {
    "file writes allowed": (
        "confine.py",
        [
            (
                "_WRITE_FLAGS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND)",
                "_WRITE_FLAGS = ()",
            )
        ],
        "write_file",
    ),
    "fork allowed": (
        "confine.py",
        [('_JOB_REFUSED = ("clone", "clone3", "fork", "vfork", ', "_JOB_REFUSED = (")],
        "fork",
    ),
    "exec allowed": ("confine.py", [('"execve", "execveat",', "")], "exec"),
    "sockets allowed": ("confine.py", [('"socket", "socketpair",', '"socketpair",')], "socket"),
    "signals to others allowed": (
        "confine.py",
        [
            (
                '_SELF_SIGNAL = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", '
                '"rt_tgsigqueueinfo")',
                '_SELF_SIGNAL = ("tkill",)',
            )
        ],
        "signal_parent",
    ),
    "SysV IPC allowed": ("confine.py", [('"shmget", "shmat",', '"shmat",')], "ipc"),
    "host /proc": (
        "namespaces.py",
        [
            (
                '_mount("proc", root + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None)',
                '_mount("/proc", root + "/proc", None, _MS_BIND | _MS_REC, None)',
            )
        ],
        "host_processes",
    ),
    "no pivot into the private root": (
        "namespaces.py",
        [
            (
                "def _pivot_into(root: str) -> None:\n",
                "def _pivot_into(root: str) -> None:\n    return\n",
            ),
            (
                '_mount(None, "/", None, _MS_BIND | _MS_REMOUNT',
                "_mount(None, root, None, _MS_BIND | _MS_REMOUNT",
            ),
        ],
        "host_files",
    ),
}


def _patched_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file: str,
                     edits: list[tuple[str, str]]) -> None:
    copy = tmp_path / "sandbox"
    shutil.copytree(process.SANDBOX_DIR, copy)
    source = (copy / file).read_text()
    for old, new in edits:
        assert source.count(old) == 1, f"the test's edit no longer matches {file}: {old!r}"
        source = source.replace(old, new)
    (copy / file).write_text(source)
    monkeypatch.setattr(process, "SANDBOX_DIR", copy)


def test_an_unchanged_copy_of_the_sandbox_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  sandbox_report: dict[str, object]) -> None:
    _patched_sandbox(tmp_path, monkeypatch, "confine.py", [])
    with Executor(workers=1, timeout_s=2.0) as ex:
        assert ex.run("def f(a):\n    return a", "1").value == "1"


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_a_broken_layer_fails_the_self_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox_report: dict[str, object], broken: str
) -> None:
    file, edits, probe = BROKEN[broken]
    layer = PROBE_LAYERS[probe]
    if sandbox_report["probes"][probe] == "skipped":  # type: ignore[index]
        pytest.skip(f"layer '{layer}' is missing here, so its probe cannot run")
    _patched_sandbox(tmp_path, monkeypatch, file, edits)
    ex = Executor(workers=1, timeout_s=2.0)
    with pytest.raises(SandboxUnavailable, match=f"'{probe}'"):
        ex.start()
    assert not ex.started


def test_namespaces_off_are_reported_missing_and_their_probes_skipped() -> None:
    with Executor(workers=1, timeout_s=2.0, namespaces=False) as ex:
        report = ex.sandbox_report()
    assert report["probes"]["host_processes"] == "skipped"
    assert report["probes"]["host_files"] == "skipped"
    assert all(
        report["probes"][name] == "forbidden"
        for name, layer in PROBE_LAYERS.items()
        if layer == "seccomp"
    )
    assert "disabled" in report["missing"]["pid"] and "root" in report["missing"]
