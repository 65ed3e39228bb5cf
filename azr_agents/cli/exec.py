"""`azr exec`: run one program in the sandbox and print the result as JSON (or `--demo`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from azr_agents.cli.exit_codes import EXIT_USAGE

DEMO_JOBS = [
    ("the zero triplet", "def f(a):\n    return a", "'Hello world'"),
    ("a set, compared as a value", "def f(xs):\n    return set(xs)", "[3, 1, 2, 1]"),
    ("an import of an allowed module",
     "from collections import Counter\ndef f(s):\n    return Counter(s).most_common(2)",
     "'abracadabra'"),
    ("an exception", "def f(a):\n    return 1 // a", "0"),
    ("a busy loop (time limit)", "def f(a):\n    while True:\n        a += 1", "0"),
    ("a memory bomb", "def f(a):\n    return [0] * (10 ** 10)", "0"),
    ("a fork", "import os\ndef f(a):\n    return os.fork()", "0"),
    ("a file write", "def f(a):\n    open('/tmp/azr-demo', 'w').write(a)", "'x'"),
    ("an output over the cap", "def f(a):\n    return 'x' * 5000", "0"),
]


def _exec_command(args: argparse.Namespace) -> int:
    from azr_env.errors import AZRConfigError
    from azr_env.executor import Executor, SandboxUnavailable

    try:
        executor = Executor(timeout_s=args.timeout, memory_mb=args.memory_mb,
                            unsafe_allow_unsandboxed=args.unsafe_no_sandbox)
        with executor:
            if args.report:
                print(json.dumps(executor.sandbox_report(), indent=2))
                return 0
            if args.demo:
                return _demo(executor)
            program, call_args = _read_job(args)
            result = executor.run(program, call_args)
            print(json.dumps(result.to_dict(), indent=2))
            return 0 if result.ok else 1
    except (AZRConfigError, SandboxUnavailable, OSError, UnicodeDecodeError) as exc:
        print(f"azr exec: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _read_job(args: argparse.Namespace) -> tuple[str, str]:
    if args.program is None:
        raise OSError("give a PROGRAM_FILE (or - for stdin) and ARGS, "
                      "e.g. azr exec prog.py \"'abc', 3\"")
    source = sys.stdin.read() if args.program == "-" else Path(args.program).read_text()
    if args.args is None:
        raise OSError("missing ARGS: the call's arguments as Python source, e.g. \"[1, 2], 3\"")
    return source, args.args


def _demo(executor: object) -> int:
    from azr_env.executor import Executor

    assert isinstance(executor, Executor)
    results = executor.run_batch([(program, call) for _, program, call in DEMO_JOBS])
    print(f"sandbox layers: {json.dumps(executor.layers)}\n")
    print(f"{'job':<32} {'status':<10} {'ms':>7}  value / error")
    for (title, _, _), result in zip(DEMO_JOBS, results, strict=True):
        shown = result.value if result.ok else f"{result.reason}: {result.error}"
        print(f"{title:<32} {result.status:<10} {result.duration_s * 1e3:7.1f}  {shown}")
    return 0


def add_parser(sub: Any) -> None:
    """Add `exec` to the `azr` subparsers."""
    p = sub.add_parser("exec", help="run one program in the sandbox and print the result as JSON")
    p.add_argument("program", nargs="?", help="file holding a program that defines f (- for stdin)")
    p.add_argument("args", nargs="?", help="the call's arguments as Python source")
    p.add_argument("--timeout", type=float, default=10.0, help="wall-clock limit in seconds")
    p.add_argument("--memory-mb", type=int, default=1024, help="memory limit of the job")
    p.add_argument("--report", action="store_true", help="print which sandbox layers are active")
    p.add_argument("--demo", action="store_true", help="run a few benign and hostile programs")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run even where seccomp is unavailable (trusted code only)")
    p.set_defaults(handler=_exec_command)
