"""Executor throughput and latency against the designs it replaces, measured in one run.

Compared on the same trivial program, on this machine, in this process:
- `azr job`: the default `Executor` (a fresh sandboxed process per job, forked from a template);
- `azr worker`: `Executor(isolation="worker")` (jobs share sandboxed processes);
- `AZR-style`: the reference's design, a persistent pebble process pool that `exec`s each program
  with an alarm timeout, unsandboxed;
- `process-per-check`: the official HumanEval/CRUXEval harness design, a new
  `multiprocessing.Process` per check with a join timeout, two at a time, unsandboxed.

Prints jobs/s, p50/p99 single-call latency (and, for `azr job`, CPU milliseconds per job, trusted
side and sandbox together) and the ratios to the baselines, and appends one JSON
line to `benchmarks/results/executor.jsonl`. Targets (2-core machine): job >= 0.3x AZR-style and
>= 5x process-per-check; worker >= 1.5x AZR-style; p50 single call <= 2 ms.

    python benchmarks/executor.py [--jobs 2000] [--latency-calls 300]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import signal
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from azr_env.executor import Executor

PROGRAM = "def f(a, b):\n    return sorted(a)[:b] + [len(a)]"
ARGS = "[5, 3, 9, 1, 7], 2"
EXPECTED = "[1, 3, 5]"
LATENCY_GAP_S = 0.005
RESULTS = Path(__file__).resolve().parent / "results" / "executor.jsonl"

Runner = Callable[[Sequence[tuple[str, str]]], list[str]]


def _exec_with_alarm(program: str, args: str, timeout_s: int) -> str:
    """What the reference's pebble worker does: exec the program, call f, under an alarm."""

    def on_alarm(signum: int, frame: Any) -> None:
        raise TimeoutError

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(timeout_s)
    try:
        namespace: dict[str, Any] = {}
        exec(program, namespace)
        return repr(eval(f"f({args})", namespace))
    finally:
        signal.alarm(0)


def _check_in_child(program: str, args: str, out: Any) -> None:
    namespace: dict[str, Any] = {}
    exec(program, namespace)
    out.append(repr(eval(f"f({args})", namespace)))


def _process_per_check(job: tuple[str, str]) -> str:
    manager_list: list[str] = _MANAGER.list()  # type: ignore[assignment]
    process = mp.get_context("fork").Process(target=_check_in_child, args=(*job, manager_list))
    process.start()
    process.join(timeout=10)
    if process.is_alive():
        process.kill()
    return manager_list[0] if manager_list else "timeout"


_MANAGER: Any = None


def executor_cpu_s(ex: Executor) -> float:
    """CPU seconds used so far by this process and by the executor's sandbox process trees (each
    launcher, its template, and the job processes the template reaped). Unlike jobs/s, CPU per
    job hardly depends on what else the machine is running."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    total = usage.ru_utime + usage.ru_stime
    for process in ex._processes:
        if process is None:
            continue
        pids = [process.proc.pid]
        children = Path(f"/proc/{pids[0]}/task/{pids[0]}/children")
        if children.exists():
            pids += [int(pid) for pid in children.read_text().split()]
        for pid in pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(ticks) for ticks in stat[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def measure(name: str, run: Runner, jobs: int, latency_calls: int,
            cpu_s: Callable[[], float] | None = None) -> dict[str, Any]:
    """Jobs/s over one large batch, then latency of single calls issued one at a time, 5 ms
    apart (the latency a caller sees from an idle pool; a burst is what jobs/s measures).
    With `cpu_s`, also the CPU milliseconds spent per job of the batch."""
    batch = [(PROGRAM, ARGS)] * jobs
    run(batch[:20])  # warm up
    cpu_before = cpu_s() if cpu_s else 0.0
    started = time.perf_counter()
    values = run(batch)
    elapsed = time.perf_counter() - started
    cpu_ms = (cpu_s() - cpu_before) / jobs * 1e3 if cpu_s else None
    assert values == [EXPECTED] * jobs, f"{name} returned wrong values: {set(values)}"
    latencies = []
    for _ in range(latency_calls):
        time.sleep(LATENCY_GAP_S)  # a lone call on an idle pool, not the tail of a burst
        t0 = time.perf_counter()
        run(batch[:1])
        latencies.append(time.perf_counter() - t0)
    latencies.sort()
    figures = {
        "jobs_per_s": jobs / elapsed,
        "p50_ms": statistics.median(latencies) * 1e3,
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1e3,
    }
    if cpu_ms is not None:
        figures["cpu_ms_per_job"] = cpu_ms
    print(f"  {name:<18} {figures['jobs_per_s']:9.0f} jobs/s   p50 {figures['p50_ms']:6.2f} ms   "
          f"p99 {figures['p99_ms']:6.2f} ms" + (f"   CPU {cpu_ms:.2f} ms/job" if cpu_ms else ""),
          flush=True)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs in the throughput batch")
    parser.add_argument("--latency-calls", type=int, default=300,
                        help="single calls timed one by one")
    parser.add_argument("--no-record", action="store_true", help="do not append to results/")
    args = parser.parse_args(argv)
    workers = os.cpu_count() or 1
    print(f"executor benchmark: {workers} workers, {args.jobs} jobs, load {os.getloadavg()[0]:.2f}")

    figures: dict[str, dict[str, Any]] = {}
    with Executor(workers=workers) as ex:
        figures["azr_job"] = measure("azr job", lambda b: [r.value or "" for r in ex.run_batch(b)],
                                     args.jobs, args.latency_calls, lambda: executor_cpu_s(ex))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        worker_ex = Executor(workers=workers, isolation="worker")
    with worker_ex as ex:
        figures["azr_worker"] = measure(
            "azr worker",
            lambda b: [r.value or "" for r in ex.run_batch(b)],
            args.jobs,
            args.latency_calls,
        )

    from pebble import ProcessPool

    with ProcessPool(max_workers=workers) as pool:
        def azr_style(batch: Sequence[tuple[str, str]]) -> list[str]:
            futures = [
                pool.schedule(_exec_with_alarm, args=(p, a, 10), timeout=10) for p, a in batch
            ]
            return [f.result() for f in futures]

        figures["azr_style"] = measure("AZR-style (pebble)", azr_style, args.jobs,
                                       args.latency_calls)

    global _MANAGER
    _MANAGER = mp.Manager()
    with ThreadPoolExecutor(max_workers=workers) as threads:
        def per_check(batch: Sequence[tuple[str, str]]) -> list[str]:
            return list(threads.map(_process_per_check, batch))

        small = max(100, args.jobs // 10)
        figures["process_per_check"] = measure("process-per-check", per_check, small,
                                               max(30, args.latency_calls // 10))
    _MANAGER.shutdown()

    ratios = {
        "job_vs_azr_style": figures["azr_job"]["jobs_per_s"] / figures["azr_style"]["jobs_per_s"],
        "job_vs_process_per_check": figures["azr_job"]["jobs_per_s"]
        / figures["process_per_check"]["jobs_per_s"],
        "worker_vs_azr_style": figures["azr_worker"]["jobs_per_s"]
        / figures["azr_style"]["jobs_per_s"],
    }
    targets = {"job_vs_azr_style": 0.3, "job_vs_process_per_check": 5.0, "worker_vs_azr_style": 1.5}
    print("\nratios (target):")
    for key, value in ratios.items():
        mark = "ok" if value >= targets[key] else "SHORT"
        print(f"  {key:<26} {value:6.2f}x  (>= {targets[key]}x)  {mark}")
    p50 = figures["azr_job"]["p50_ms"]
    print(f"  {'job p50 single call':<26} {p50:6.2f} ms (<= 2 ms)  {'ok' if p50 <= 2 else 'SHORT'}")

    if not args.no_record:
        RESULTS.parent.mkdir(exist_ok=True)
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from benchmarks.provenance import commit, machine

        record = {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "commit": commit(), "machine": machine(),
            "command": "python benchmarks/executor.py " + " ".join(sys.argv[1:]),
            "cpus": workers, "load": round(os.getloadavg()[0], 2),
            "python": sys.version.split()[0], "figures": figures, "ratios": ratios,
        }
        with RESULTS.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
