"""The hostile corpus: one attack per test, each contained, the pool answering correctly after it.

Runs only once the sandbox's probes have shown that fork, exec, sockets and file writes are refused
(see conftest.py). Where an attack could succeed silently (a C call returning -1, `os.system`
returning an error code), the test checks the effect, not only the status.
"""

from __future__ import annotations

import ast
import socket
import threading
import time
from pathlib import Path

import pytest

from azr_env.executor import Executor

PLAIN = ("def f(a):\n    return [a, a * 2]", "21", "[21, 42]")
NOT_OK = {"error", "forbidden", "crash", "timeout", "memory"}


def assert_pool_alive(ex: Executor) -> None:
    program, args, expected = PLAIN
    results = ex.run_batch([(program, args)] * 4)
    assert [r.value for r in results] == [expected] * 4


def run(ex: Executor, program: str, args: str = "0") -> tuple[str, str | None]:
    result = ex.run(program, args)
    assert_pool_alive(ex)
    return result.status, result.value


CONTAINED = {
    # name: (program, statuses allowed)
    "busy_loop": ("def f(a):\n    while True:\n        a += 1", {"timeout"}),
    "sleep": ("import time\ndef f(a):\n    time.sleep(60)", {"timeout"}),
    "memory_bomb": ("def f(a):\n    return [0] * (10 ** 10)", {"memory"}),
    "memory_creep": (
        "def f(a):\n    xs = []\n    while True:\n        xs.append(' ' * 10**6)",
        {"memory"},
    ),
    "fork": ("import os\ndef f(a):\n    return os.fork()", {"forbidden"}),
    "fork_bomb": ("import os\ndef f(a):\n    while True:\n        os.fork()", {"forbidden"}),
    "setsid_daemon": (
        "import os\ndef f(a):\n    os.setsid()\n    if os.fork():\n        return 1\n"
        "    while True: pass",
        {"forbidden"},
    ),
    "exec": (
        "import os\ndef f(a):\n    os.execv('/bin/sh', ['sh', '-c', 'echo pwned'])",
        {"forbidden"},
    ),
    "subprocess": (
        "import subprocess\ndef f(a):\n    return subprocess.run(['id']).returncode",
        NOT_OK,
    ),
    "kill_parent": ("import os\ndef f(a):\n    os.kill(os.getppid(), 9)", {"forbidden"}),
    "kill_group": ("import os\ndef f(a):\n    os.killpg(0, 9)", {"forbidden"}),
    "kill_everyone": ("import os\ndef f(a):\n    os.kill(-1, 9)", {"forbidden"}),
    "ignore_signals": (
        "import signal\ndef f(a):\n    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):\n"
        "        signal.signal(s, signal.SIG_IGN)\n    while True: pass",
        {"timeout"},
    ),
    "deep_recursion": ("def f(a):\n    return f(a + 1)", {"error"}),
    "deep_recursion_unlimited": (
        "import sys\nsys.setrecursionlimit(10**7)\ndef f(a):\n    return f(a + 1)",
        {"crash", "error", "memory", "timeout"},
    ),
    "raise_rlimit": (
        "import resource\ndef f(a):\n    resource.setrlimit(resource.RLIMIT_AS, (-1, -1))\n"
        "    return [0] * 10**9",
        NOT_OK,
    ),
    "raise_cpu_rlimit": (
        "import resource\ndef f(a):\n    resource.setrlimit(resource.RLIMIT_CPU, (-1, -1))\n"
        "    while True: pass",
        NOT_OK,
    ),
    "close_fds": ("import os\ndef f(a):\n    os.closerange(0, 4096)\n    return 1", {"crash"}),
    "threads": (
        "import threading\ndef f(a):\n    t = threading.Thread(target=print)\n    t.start()\n"
        "    return 1",
        NOT_OK,
    ),
    "ctypes_fork": (
        "import ctypes\ndef f(a):\n    pid = ctypes.CDLL(None).fork()\n    if pid == 0:\n"
        "        while True: pass\n    return pid",
        NOT_OK | {"ok"},
    ),
    "ptrace_parent": (
        "import ctypes, os\ndef f(a):\n    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    if libc.ptrace(16, os.getppid(), 0, 0) != 0:\n"
        "        raise OSError(ctypes.get_errno(), 'ptrace')\n"
        "    return 'attached'",
        {"forbidden"},
    ),
    "huge_repr": ("def f(a):\n    return 'x' * 10**7", {"error"}),
    "evil_repr_raises": (
        "class E:\n    def __repr__(self):\n        raise RuntimeError('no')\n"
        "def f(a):\n    return E()",
        {"error"},
    ),
    "evil_repr_loops": (
        "class E:\n    def __repr__(self):\n        while True: pass\ndef f(a):\n    return E()",
        {"timeout"},
    ),
    "evil_repr_huge": (
        "class E:\n    def __repr__(self):\n        return 'y' * 10**8\ndef f(a):\n    return E()",
        {"error", "memory"},
    ),
    "evil_str_exception": (
        "class E(Exception):\n    def __str__(self):\n        raise E()\ndef f(a):\n    raise E()",
        {"error"},
    ),
    "stdout_flood": (
        "import os, sys\ndef f(a):\n    for _ in range(2000):\n        print('x' * 1000)\n"
        "        os.write(2, b'y' * 1000)\n    return 'done'",
        {"ok"},
    ),
    "exit_early": ("import os\ndef f(a):\n    os._exit(0)", {"crash"}),
    "abort": ("import os\ndef f(a):\n    os.abort()", {"crash"}),
    "segfault": ("import ctypes\ndef f(a):\n    return ctypes.string_at(0)", {"crash"}),
    "base_exception": ("def f(a):\n    raise KeyboardInterrupt", {"error"}),
}


@pytest.mark.parametrize("name", sorted(CONTAINED))
def test_attack_is_contained_and_the_pool_survives(hostile_executor: Executor, name: str) -> None:
    program, allowed = CONTAINED[name]
    status, value = run(hostile_executor, program)
    assert status in allowed, (name, status, value)
    if name == "stdout_flood":
        assert value == "'done'"
    if status == "ok" and name == "ctypes_fork":
        assert value == "-1", "fork through ctypes must fail"


def test_file_writes_and_removals_are_refused(hostile_executor: Executor, canary_dir: Path) -> None:
    canary = canary_dir / "canary.txt"
    attacks = [
        f"def f(a):\n    open({str(canary)!r}, 'w').write('pwned')",
        f"def f(a):\n    open({str(canary)!r}, 'a').write('pwned')",
        f"def f(a):\n    __import__('os').remove({str(canary)!r})",
        f"def f(a):\n    __import__('os').rename({str(canary)!r}, {str(canary)!r} + '.x')",
        f"def f(a):\n    open({str(canary_dir / 'new.txt')!r}, 'x').write('pwned')",
        f"def f(a):\n    __import__('os').mkdir({str(canary_dir / 'sub')!r})",
        f"def f(a):\n    __import__('os').symlink('/etc/passwd', {str(canary_dir / 'link')!r})",
        f"def f(a):\n    __import__('os').chmod({str(canary)!r}, 0o777)",
        f"import ctypes\ndef f(a):\n    return ctypes.CDLL(None).unlink({str(canary).encode()!r})",
        f"import os\ndef f(a):\n    return os.system('rm -f {canary}; touch {canary_dir}/sys')",
    ]
    for program in attacks:
        status, value = run(hostile_executor, program)
        # C calls report failure as a value: -1, or system()'s 127 exit status when it cannot spawn
        assert status == "forbidden" or (status == "ok" and value in ("-1", "32512")), (
            program,
            status,
            value,
        )
    assert canary.read_text() == "intact"
    assert sorted(p.name for p in canary_dir.iterdir()) == ["canary.txt"]


def test_network_is_unreachable(hostile_executor: Executor) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.5)
    udp_port = udp.getsockname()[1]
    attacks = [
        f"import socket\ndef f(a):\n    socket.create_connection(('127.0.0.1', {port}), 1)",
        "import socket\ndef f(a):\n"
        "    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', "
        f"{udp_port}))",
        "import ctypes\ndef f(a):\n    fd = ctypes.CDLL(None).socket(2, 1, 0)\n    return fd",
    ]
    try:
        for program in attacks:
            status, value = run(hostile_executor, program)
            assert status in NOT_OK or value == "-1", (program, status, value)
        with pytest.raises(OSError):
            server.accept()
        with pytest.raises(OSError):
            udp.recvfrom(10)
    finally:
        server.close()
        udp.close()


def test_environment_secrets_do_not_reach_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZR_TEST_SECRET", "hunter2-secret")
    with Executor(workers=1, timeout_s=2.0) as ex:
        result = ex.run(
            "import os\ndef f(a):\n    found = [repr(dict(os.environ))]\n"
            "    for pid in (os.getppid(), 1):\n        try:\n"
            "            found.append(open(f'/proc/{pid}/environ', "
            "'rb').read().decode('latin-1'))\n"
            "        except OSError as e:\n            found.append(type(e).__name__)\n"
            "    return ' '.join(found)[:900]",
            "0",
        )
    assert result.ok, result
    assert "hunter2" not in (result.value or "")
    assert "AZR_TEST_SECRET" not in (result.value or "")


def test_inherited_fds_are_only_the_result_channel(hostile_executor: Executor) -> None:
    result = hostile_executor.run(
        "import os\ndef f(a):\n    return sorted(int(x) for x in os.listdir('/proc/self/fd'))", "0"
    )
    assert result.ok, result
    fds = ast.literal_eval(result.value or "[]")
    # stdio (/dev/null), the job pipe's read end and the result pipe, plus listdir's own fd.
    assert fds[:3] == [0, 1, 2] and len(fds) <= 6


def test_forged_frames_never_count_as_another_value(hostile_executor: Executor) -> None:
    junk = (
        "import os\ndef f(a):\n    for fd in range(3, 20):\n"
        "        try: os.write(fd, b'AZR1garbage')\n"
        "        except OSError: pass\n    return 'real'"
    )
    status, value = run(hostile_executor, junk)
    assert status == "forbidden" and value is None
    # A whole frame written by the job is the job's own claim, no more than returning the value:
    # it never reaches another job's result.
    forged = (
        "import os, json\ndef f(a):\n    body = json.dumps({'status': 'ok', 'value': 'FORGED', "
        "'encoded': ['str', 'FORGED']}).encode()\n"
        "    for fd in range(3, 20):\n"
        "        try: os.write(fd, b'AZR1' + len(body).to_bytes(4, 'big') + body)\n"
        "        except OSError: pass\n    os._exit(0)"
    )
    results = hostile_executor.run_batch(
        [(PLAIN[0], PLAIN[1]), (forged, "0"), (PLAIN[0], PLAIN[1])] * 2
    )
    assert [r.value for r in results[::3] + results[2::3]] == [PLAIN[2]] * 4
    # (its own text, or the text rebuilt from its tree where the trusted side re-derives it)
    assert all(
        r.value in (None, "FORGED", "'FORGED'") and r.status != "infra" for r in results[1::3]
    )
    assert_pool_alive(hostile_executor)


def test_state_does_not_leak_between_jobs() -> None:
    poison = (
        "import builtins, math, sys, collections\n"
        "builtins.len = lambda x: 42\nbuiltins.print = None\nmath.pi = 3\nsys.azr_counter = 1\n"
        "collections.Counter = dict\n"
        "def f(a):\n    return 1"
    )
    probe = (
        "import builtins, math, sys, collections\n"
        "def f(a):\n"
        "    return (len([1]), builtins.print is None, math.pi == 3, hasattr(sys, 'azr_counter'),"
        " collections.Counter is dict)"
    )
    # one template: every job comes from the same one
    with Executor(workers=1, timeout_s=2.0) as ex:
        ex.run(poison, "0")  # whatever it breaks, it breaks only in its own process
        assert ex.run(probe, "0").value == "(1, False, False, False, False)"


def test_worker_isolation_does_leak_state_as_documented() -> None:
    with pytest.warns(UserWarning):
        ex = Executor(workers=1, timeout_s=2.0, isolation="worker")
    with ex:
        ex.run("import math\nmath.pi = 3\ndef f(a):\n    return 1", "0")
        assert ex.run("import math\ndef f(a):\n    return math.pi", "0").value == "3"


def test_many_hostile_jobs_in_one_batch_keep_order(hostile_executor: Executor) -> None:
    programs = [CONTAINED[name][0] for name in ("fork", "memory_bomb", "close_fds", "exit_early")]
    jobs = [(p, "0") for p in programs] + [(PLAIN[0], PLAIN[1])]
    statuses = [r.status for r in hostile_executor.run_batch(jobs * 3)]
    assert statuses == ["forbidden", "memory", "crash", "crash", "ok"] * 3


def test_no_sandbox_process_outlives_its_executor() -> None:
    with Executor(workers=2, timeout_s=0.5) as ex:
        launchers = [p.proc.pid for p in ex._processes if p is not None]
        assert ex.run("def f(a):\n    while True: pass", "0").status == "timeout"
        uids = {ex.uid_base + slot for slot in range(2)}
    give_up = time.monotonic() + 2.0
    while (leftovers := _pids_of(uids)) and time.monotonic() < give_up:
        time.sleep(0.05)
    assert leftovers == [], f"sandbox processes still alive: {leftovers}"
    assert not any(Path(f"/proc/{pid}").exists() for pid in launchers)


def _pids_of(uids: set[int]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_a_thread_calling_run_while_another_runs_is_serialised(hostile_executor: Executor) -> None:
    outcomes: list[str | None] = []

    def worker() -> None:
        outcomes.append(hostile_executor.run(PLAIN[0], PLAIN[1]).value)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == [PLAIN[2]] * 4
