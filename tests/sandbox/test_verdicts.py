"""Who decides a job's status (issue 11, finding 5): a job's own bytes or crashes never make it
`infra` (reward 0, dropped from training); only what the trusted side observes of the sandbox
does (a template that dies or cannot fork, a sandbox that cannot start).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from azr_env.executor import Executor

PLAIN = ("def f(a):\n    return [a, a * 2]", "21", "[21, 42]")


def _frame_writer(body: str, tail: str = "os._exit(0)") -> str:
    """A program that writes `body` (a Python expression: a str sent as it is, or a value sent
    as JSON) as a frame on every fd it holds, then runs `tail`."""
    return (
        "import json, os\ndef f(a):\n"
        f"    body = {body}\n"
        "    data = (body if isinstance(body, str) else json.dumps(body)).encode()\n"
        "    for fd in range(3, 20):\n"
        "        try:\n            os.write(fd, b'AZR1' + len(data).to_bytes(4, 'big') + data)\n"
        "        except OSError:\n            pass\n"
        f"    {tail}"
    )


FORGERIES = {
    "infra": _frame_writer("{'status': 'infra', 'reason': 'sandbox_failure', 'error': 'x'}"),
    "infra_then_linger": _frame_writer("{'status': 'infra'}", "while True: pass"),
    "unknown_status": _frame_writer("{'status': 'sandbox_is_down'}"),
    "no_status": _frame_writer("{'value': '1'}"),
    "infra_item": _frame_writer("{'status': 'ok', 'items': [{'status': 'infra'}]}"),
    "items_not_a_list": _frame_writer("{'status': 'ok', 'items': 'infra'}"),
    "deep_json": _frame_writer("'[' * 5000 + ']' * 5000"),
    "not_json": _frame_writer("'{not json'"),
    "huge_length": ("import os\ndef f(a):\n    for fd in range(3, 20):\n        try:\n"
                    "            os.write(fd, b'AZR1' + (2**32 - 1).to_bytes(4, 'big') + b'{')\n"
                    "        except OSError:\n            pass\n    os._exit(0)"),
    "half_frame": ("import os\ndef f(a):\n    for fd in range(3, 20):\n        try:\n"
                   "            os.write(fd, b'AZR1' + (100).to_bytes(4, 'big') + b'{\"status\"')\n"
                   "        except OSError:\n            pass\n    os._exit(0)"),
    "two_frames": _frame_writer("{'status': 'ok', 'value': '1', 'encoded': ['int', '0x1']}",
                                "return 2"),
}

SELF_HARM = {
    "sigkill_self": "import os\ndef f(a):\n    os.kill(os.getpid(), 9)",
    "sigsegv_self": "import os\ndef f(a):\n    os.kill(os.getpid(), 11)",
    "sigterm_self": "import os\ndef f(a):\n    os.kill(os.getpid(), 15)",
    "sigstop_self": "import os\ndef f(a):\n    os.kill(os.getpid(), 19)",
    "exit_70": "import os\ndef f(a):\n    os._exit(70)",
    "close_result_fd": "import os\ndef f(a):\n    os.closerange(3, 64)\n    return 1",
    "close_result_fd_then_sleep": "import os, time\ndef f(a):\n    os.closerange(3, 64)\n"
                                  "    time.sleep(30)",
    "raise_system_exit": "def f(a):\n    raise SystemExit(3)",
    "kill_template": "import os\ndef f(a):\n    os.kill(1, 9)",
    "deep_return_value": "def f(a):\n    x = []\n    for _ in range(100000):\n        x = [x]\n"
                         "    return x",
}


@pytest.fixture()
def executor(hostile_executor: Executor) -> Iterator[Executor]:
    with Executor(workers=1, timeout_s=1.0, memory_mb=256) as ex:
        yield ex


def assert_pool_alive(ex: Executor) -> None:
    assert [r.value for r in ex.run_batch([PLAIN[:2]] * 3)] == [PLAIN[2]] * 3


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_a_forged_result_never_makes_a_job_infra(executor: Executor, name: str) -> None:
    result = executor.run(FORGERIES[name], "0")
    assert result.status != "infra", (name, result)
    assert all(item.status != "infra" for item in result.items), (name, result)
    assert_pool_alive(executor)


def test_a_forged_infra_item_in_a_batch_of_inputs_is_not_infra(executor: Executor) -> None:
    results = executor.run_many(FORGERIES["infra_item"], ["1", "2"])
    assert all(r.status != "infra" for r in results), results


@pytest.mark.parametrize("name", sorted(SELF_HARM))
def test_a_job_that_harms_itself_gets_its_own_verdict(executor: Executor, name: str) -> None:
    result = executor.run(SELF_HARM[name], "0")
    assert result.status in ("crash", "error", "forbidden", "timeout", "memory"), (name, result)
    assert_pool_alive(executor)


def test_worker_mode_forgeries_are_the_jobs_own_too() -> None:
    with pytest.warns(UserWarning):
        ex = Executor(workers=1, timeout_s=1.0, isolation="worker")
    with ex:
        for name in ("infra", "unknown_status", "deep_json"):
            # a worker's frames carry a nonce the job can read: the forged one is unexpected or,
            # if it guesses right, its own claim, never infra
            result = ex.run(FORGERIES[name], "0")
            assert result.status != "infra", (name, result)


def test_a_template_that_dies_is_infra_observed_by_the_trusted_side(executor: Executor) -> None:
    """Killed from outside (as the host's OOM killer would): not the job's doing, so `infra`."""
    process = executor._processes[0]
    assert process is not None
    launcher = process.proc.pid
    template = int(Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split()[0])

    def kill_soon() -> None:
        time.sleep(0.3)
        os.kill(template, signal.SIGKILL)

    killer = threading.Thread(target=kill_soon)
    killer.start()
    result = executor.run("import time\ndef f(a):\n    time.sleep(0.9)\n    return 1", "0")
    killer.join()
    assert result.status == "infra", result
    assert_pool_alive(executor)
