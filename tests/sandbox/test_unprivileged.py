"""Without root (issue 11, finding 11): a non-root user gets the same layers through an
unprivileged user namespace where the kernel allows one, and the report says why any is missing.

As root, the check runs in a subprocess as `nobody` (setpriv). Python installs under a folder
`nobody` cannot enter (pyenv's under /root) are made reachable for that subprocess only: it runs
in a private mount namespace where that folder is covered by an empty tmpfs holding a bind of the
install, so nothing changes on the host.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHECK = """
import json, os
from azr_env.executor import Executor
with Executor(workers=1, timeout_s=5) as ex:
    report = ex.sandbox_report()
    result = ex.run("import os\\ndef f(a):\\n    return os.getuid(), os.getppid(), "
                    "sorted(os.listdir('/')), os.path.exists(a)", repr(os.getcwd()))
print(json.dumps({"uid": os.getuid(), "report": report, "result": result.to_dict()}))
"""

NOBODY = 65534


def _closed_ancestor(path: Path) -> Path | None:
    """The outermost folder on `path` that others cannot enter, if any."""
    for parent in reversed(path.parents):
        if parent != Path("/") and not parent.stat().st_mode & 0o001:
            return parent
    return None


def _as_nobody(script: str, cwd: Path) -> list[str]:
    prefix = Path(sys.base_prefix).resolve()
    run = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
           sys.executable, "-c", script]
    closed = _closed_ancestor(prefix)
    if closed is None:
        return run
    inner = prefix.relative_to(closed).parts[0]
    shell = ('set -e; keep=$(mktemp -d); mount --bind "$1/$2" "$keep"; '
             'mount -t tmpfs -o mode=755 tmpfs "$1"; mkdir "$1/$2"; mount --bind "$keep" "$1/$2"; '
             'shift 2; cd "$0"; exec "$@"')
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", shell, str(cwd),
            str(closed), inner, *run]


def _run_check() -> dict[str, object]:
    root = Path(__file__).resolve().parents[2]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "HOME": "/nonexistent"}
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None or shutil.which("unshare") is None:
            pytest.skip("setpriv and unshare (util-linux) are needed to run the check as nobody")
        if not all(
            p.stat().st_mode & 0o005 == 0o005 for p in (root, *root.parents) if p != Path("/")
        ):
            pytest.skip(f"the project folder {root} is not readable by an unprivileged user")
        command = _as_nobody(CHECK, root)
    else:
        command = [sys.executable, "-c", CHECK]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_non_root_user_gets_the_same_layers() -> None:
    outcome = _run_check()
    report = outcome["report"]
    assert isinstance(report, dict)
    assert outcome["uid"] != 0
    missing = report["missing"]
    if "user" in missing:
        # The report must say why; nothing else can be checked on this kernel.
        assert "user namespace" in missing["user"]
        assert report["probes"]["fork"] == "forbidden"
        pytest.skip(f"this kernel refuses unprivileged user namespaces: {missing['user']}")
    layers = report["layers"]
    assert set(layers["namespaces"]) == {"user", "pid", "net", "ipc", "uts", "mount"}, report
    assert {"private root", "own /proc", "read-only"} <= set(layers["filesystem"]), report
    assert "capability" in layers["identity"]
    assert all(status == "forbidden" for status in report["probes"].values()), report
    result = outcome["result"]
    assert isinstance(result, dict) and result["status"] == "ok", result
    uid, ppid, root_entries, sees_project = ast.literal_eval(str(result["value"]))
    assert uid == outcome["uid"] and ppid == 1
    assert not {"home", "boot", "var"} & set(root_entries), root_entries
    assert sees_project is False, "the caller's working directory must not be in the sandbox"
