"""Isolation between jobs, and from the host: a program learns nothing of another job, of the
host's processes or of the host's files, and leaves nothing behind for a later job (issue 11,
findings 1, 6 and 9).

Runs after the self-check (conftest.py): each executor here is a fresh one on the same sandbox.
"""

from __future__ import annotations

import ast
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from azr_env.executor import Executor

# Walks everything a job process can reach from Python and returns each secret-shaped token it
# finds: its stack (every frame's locals and globals), the heap (every object the GC tracks, and
# the strings and bytes in them), every module's globals, /proc/self and /proc/<pid> files, the
# bytes behind every fd it holds, and the raw bytes of its anonymous memory and heap (where a
# freed buffer of another job would still be). The pattern is split in the source, and the
# program plants one token of its own (all 'f's) as a positive control.
SCANNER = r'''
import ctypes, gc, os, re, sys

PATTERN = re.compile(b"AZRSEC" + b"RET[0-9a-e]{16}")

def _tokens(blob, found):
    if isinstance(blob, str):
        blob = blob.encode("utf-8", "surrogatepass")
    if isinstance(blob, (bytes, bytearray, memoryview)):
        found.update(m.decode() for m in PATTERN.findall(bytes(blob)))

def _scan_value(value, found, depth=0):
    if isinstance(value, (str, bytes, bytearray)):
        _tokens(value, found)
    elif depth < 3 and isinstance(value, dict):
        for k, v in list(value.items()):
            _scan_value(k, found, depth + 1)
            _scan_value(v, found, depth + 1)
    elif depth < 3 and isinstance(value, (list, tuple, set, frozenset)):
        for item in list(value):
            _scan_value(item, found, depth + 1)

def f(a):
    mine = "AZRSEC" + "RET" + "e" * 16
    found, counts = set(), {}
    frame = sys._getframe()
    frames = 0
    while frame is not None:
        frames += 1
        _scan_value(frame.f_locals, found)
        _scan_value(frame.f_globals, found)
        _tokens(frame.f_code.co_consts.__repr__(), found)
        frame = frame.f_back
    counts["frames"] = frames
    gc.unfreeze()  # the template froze its heap: bring it back into view
    objects = gc.get_objects()
    counts["objects"] = len(objects)
    for obj in objects:
        _scan_value(obj, found)
        code = getattr(obj, "__code__", None)
        if code is not None:
            _tokens(repr(code.co_consts), found)
    for module in list(sys.modules.values()):
        _scan_value(dict(getattr(module, "__dict__", {})), found)
    for path in ("/proc/self/environ", "/proc/self/cmdline", "/proc/1/cmdline", "/proc/1/environ"):
        try:
            with open(path, "rb") as fh:
                _tokens(fh.read(), found)
        except OSError:
            pass
    fds = 0
    for fd in range(64):
        try:
            os.set_blocking(fd, False)
            _tokens(os.read(fd, 1 << 20), found)
            fds += 1
        except OSError:
            pass
    counts["readable_fds"] = fds
    scanned = 0
    with open("/proc/self/maps") as fh:
        maps = fh.read().splitlines()
    for line in maps:
        parts = line.split()
        start, end = (int(x, 16) for x in parts[0].split("-"))
        name = parts[5] if len(parts) > 5 else ""
        if parts[1].startswith("r") and name in ("", "[heap]", "[stack]"):
            _tokens(ctypes.string_at(start, end - start), found)
            scanned += end - start
    counts["memory_bytes"] = scanned
    return sorted(found), counts
'''


def _secret() -> str:
    return "AZRSECRET" + "".join(secrets.choice("0123456789abcd") for _ in range(16))


def _secret_job(secret: str) -> tuple[str, str]:
    program = f"SECRET = {secret!r}\ntable = {{1: SECRET}}\ndef f(a):\n    return [SECRET, a]"
    return program, repr(secret)


def require(report: dict[str, object], probe: str) -> None:
    """Skip, naming the reason, where the kernel does not allow the layer `probe` checks."""
    probes = report["probes"]
    assert isinstance(probes, dict)
    if probes[probe] == "skipped":
        pytest.skip(f"the layer behind '{probe}' is missing here: {report['missing']}")


@pytest.fixture()
def executor(hostile_executor: Executor) -> Iterator[Executor]:
    """One slot, so every job of the test comes from the same template, one after the other."""
    with Executor(workers=1, timeout_s=10.0, memory_mb=512) as ex:
        yield ex


def test_a_job_learns_nothing_of_other_jobs(executor: Executor) -> None:
    before, queued_before, queued_after = _secret(), _secret(), _secret()
    assert executor.run(*_secret_job(before)).ok
    results = executor.run_batch(
        [_secret_job(queued_before), (SCANNER, "0"), _secret_job(queued_after), (SCANNER, "0")]
    )
    assert results[0].ok and results[2].ok
    for scan in (results[1], results[3]):
        assert scan.ok, scan
        found, counts = ast.literal_eval(scan.value or "")
        assert found == ["AZRSECRET" + "e" * 16], f"a job saw another job's data: {found}"
        # the scan really looked: a real stack, heap and memory
        assert counts["frames"] >= 1 and counts["objects"] > 1000, counts
        assert counts["memory_bytes"] > 1 << 20, counts


def test_host_processes_are_not_visible(
    executor: Executor, sandbox_report: dict[str, object]
) -> None:
    require(sandbox_report, "host_processes")
    result = executor.run(
        "import os\ndef f(a):\n    out = []\n    for p in os.listdir('/proc'):\n"
        "        if p.isdigit():\n            try:\n"
        "                out.append(open(f'/proc/{p}/cmdline', "
        "'rb').read().decode('latin-1')[:60])\n"
        "            except OSError:\n                out.append('?')\n    return out",
        "0",
    )
    assert result.ok, result
    cmdlines = ast.literal_eval(result.value or "[]")
    # the template and its spares: nothing of the host, not this test process
    assert 1 <= len(cmdlines) <= executor.config.spare_processes + 2, cmdlines
    assert not any("pytest" in c for c in cmdlines), cmdlines
    own = executor.run(
        f"import os\ndef f(a):\n    return os.path.exists('/proc/{os.getpid()}/cmdline')"
        " and 'pytest' in open('/proc/{os.getpid()}/cmdline').read()",
        "0",
    )
    assert own.value == "False", own


def test_host_files_are_not_reachable(executor: Executor, tmp_path: Path,
                                      sandbox_report: dict[str, object]) -> None:
    require(sandbox_report, "host_files")
    world_dir = Path("/var/tmp") / f"azr-run-{secrets.token_hex(4)}"
    world_dir.mkdir(mode=0o755)
    try:
        targets = [tmp_path / "buffers.jsonl", world_dir / "buffers.jsonl",
                   Path.cwd() / "pyproject.toml"]
        for target in targets[:2]:
            target.write_text('{"gold": "secret output"}')
            target.chmod(0o644)
        tmp_path.chmod(0o755)
        program = ("import os\ndef f(paths):\n    out = []\n    for p in paths:\n        try:\n"
                   "            out.append(open(p).read()[:40])\n"
                   "        except OSError as e:\n            out.append(type(e).__name__)\n"
                   "    return out, sorted(os.listdir('/'))")
        result = executor.run(program, repr([str(t) for t in targets]))
        assert result.ok, result
        reads, root = ast.literal_eval(result.value or "")
        assert reads == ["FileNotFoundError"] * 3, reads
        for host_only in ("home", "var", "boot", "work", "etc/passwd"):
            assert host_only not in root
    finally:
        for child in world_dir.iterdir():
            child.unlink()
        world_dir.rmdir()


IPC_ATTEMPTS = {
    "shmget": "libc.shmget(0x41525a, 4096, 0o1000 | 0o600)",
    "shmat": "libc.shmat(0, None, 0)",
    "msgget": "libc.msgget(0x41525a, 0o1000 | 0o600)",
    "msgsnd": "libc.msgsnd(0, ctypes.create_string_buffer(16), 8, 0)",
    "semget": "libc.semget(0x41525a, 1, 0o1000 | 0o600)",
    "semop": "libc.semop(0, None, 0)",
    "mq_open": "libc.mq_open(b'/azr', 0o100 | 2, 0o600, None)",
}


@pytest.mark.parametrize("call", sorted(IPC_ATTEMPTS))
def test_sysv_and_posix_ipc_are_refused(executor: Executor, call: str) -> None:
    program = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\ndef f(a):\n"
               f"    result = {IPC_ATTEMPTS[call]}\n    return result, ctypes.get_errno()")
    result = executor.run(program, "0")
    assert result.ok, result
    assert ast.literal_eval(result.value or "") == (-1, 1), (
        f"{call} was not refused with EPERM: {result.value}"
    )


def test_python_shared_memory_is_refused(executor: Executor) -> None:
    result = executor.run("from multiprocessing import shared_memory\ndef f(a):\n"
                          "    return shared_memory.SharedMemory(create=True, size=4096).name", "0")
    assert result.status in ("forbidden", "error"), result


def test_nothing_ipc_persists_across_jobs(
    executor: Executor, sandbox_report: dict[str, object]
) -> None:
    require(sandbox_report, "host_files")  # reads /proc/sysvipc of its own IPC namespace
    leave = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\ndef f(a):\n"
             "    seg = libc.shmget(0x41525a, 1 << 24, 0o1000 | 0o600)\n"
             "    queue = libc.msgget(0x41525a, 0o1000 | 0o600)\n    return seg, queue")
    find = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\ndef f(a):\n"
        "    ipc = [open(f'/proc/sysvipc/{k}').read().splitlines()[1:] for k in ('shm', 'msg', "
        "'sem')]\n"
        "    return libc.shmget(0x41525a, 0, 0), libc.msgget(0x41525a, 0), ipc"
    )
    assert executor.run(leave, "0").value == "(-1, -1)"
    assert executor.run(find, "0").value == "(-1, -1, [[], [], []])"


def test_a_job_sees_its_own_pid_namespace(
    executor: Executor, sandbox_report: dict[str, object]
) -> None:
    require(sandbox_report, "host_processes")
    result = executor.run("import os\ndef f(a):\n    return os.getppid()", "0")
    assert result.value == "1", "the template is PID 1 of the sandbox's PID namespace"
    assert os.getpid() != 1
