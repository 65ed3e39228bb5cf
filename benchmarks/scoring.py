"""Scoring throughput of the dataset API against serial per-answer glue, and generator throughput.

Two figures, each against its goal (issue 13):

- answers/s of `Scorer.score(rows, completions)` (one batch per task type through the sandbox)
  against the glue a user writes without it: for each answer, `reset(options={"task": ...})` on
  a solve env (which validates the task again) then `step(completion)`. Same executor settings,
  same answers, measured in the same run, twice: every answer to its own task (half right), and
  GRPO groups (`--group` completions per task: half right, the others two wrong values, every
  text distinct), where the scorer judges each distinct answer once. Goal: >= 5x.
- validated tasks/s of the program generator (`TaskSupply.take`: generate, statically check, run
  twice in the sandbox, build the task), on a `worker`-isolation executor (the generator's
  programs are this project's own code, not a model's) with 2 workers. Goal: >= 1,000.

Appends one JSON line (figures, commit, machine, date, command) to
`benchmarks/results/scoring.jsonl`.

    python benchmarks/scoring.py [--answers 96] [--group 8 --groups 12] [--tasks 2000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# Measure this checkout's azr_env, whatever copy is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym

import azr_env  # noqa: F401  (registers the ids)
from azr_env.dataset import Scorer, create_dataset, reference_answer, task_of
from azr_env.executor import Executor
from azr_env.sources import TaskSupply, get_source
from benchmarks.provenance import commit, machine

RESULTS = Path(__file__).resolve().parent / "results" / "scoring.jsonl"
TYPES = ("deduction", "abduction", "induction")


def completion(row: dict[str, Any], right: bool, variant: int = 0, attempt: int = 0) -> str:
    """A gold or a wrong answer (`variant` picks one of several wrong values)."""
    body = reference_answer(row) if right else f"```output\n'wrong{variant}'\n```\n```input\n" \
        f"'wrong{variant}'\n```\n```python\ndef f(*a):\n    return 'wrong{variant}'\n```"
    return f"<think>scripted attempt {attempt}</think>\n<answer>\n{body}\n</answer>"


def grpo_groups(rows: list[dict[str, Any]], size: int) -> tuple[list[dict[str, Any]], list[str]]:
    """`size` completions per row, as GRPO samples them: half right, the rest spread over two
    wrong values, each with its own reasoning text."""
    out_rows, texts = [], []
    for row in rows:
        for j in range(size):
            out_rows.append(row)
            texts.append(completion(row, right=j % 2 == 0, variant=j % 4, attempt=j))
    return out_rows, texts


def serial_glue(executor: Executor, rows: list[dict[str, Any]], completions: list[str]) -> float:
    """Seconds for the per-answer glue: pose the task on a solve env, step, read the reward."""
    envs = {t: gym.make(f"azr_env/{t.capitalize()}-Solve-v0", executor=executor) for t in TYPES}
    start = time.perf_counter()
    for row, text in zip(rows, completions, strict=True):
        task = task_of(row)
        env = envs[task.task_type]
        env.reset(options={"task": {"program": task.program, "inputs": list(task.inputs),
                                    "message": task.message}})
        env.step(text)
    seconds = time.perf_counter() - start
    for env in envs.values():
        env.close()
    return seconds


def batched(executor: Executor, rows: list[dict[str, Any]], completions: list[str]) -> float:
    """Seconds for `Scorer.score` on all answers at once (a fresh scorer: nothing cached)."""
    with Scorer(executor=executor) as scorer:
        start = time.perf_counter()
        scores = scorer.score(rows, completions)
        seconds = time.perf_counter() - start
    assert all(s == 1.0 for s in scores[::2]), scores  # every gold answer is right
    return seconds


def generator_rate(workers: int, tasks: int) -> dict[str, float]:
    """Validated generator tasks/s per task type, executor started beforehand."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # worker isolation is chosen on purpose
        executor = Executor(workers=workers, isolation="worker")
    out = {}
    with executor:
        source = get_source("generator")
        for task_type in TYPES:
            supply = TaskSupply(source, executor)
            supply.take(task_type, 10**6, 50)  # warm-up
            start = time.perf_counter()
            found = supply.take(task_type, 0, tasks)
            out[task_type] = round(len(found) / (time.perf_counter() - start), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=96, help="answers per task type")
    parser.add_argument("--group", type=int, default=8, help="GRPO group size")
    parser.add_argument("--groups", type=int, default=12, help="GRPO groups per task type")
    parser.add_argument("--tasks", type=int, default=2000, help="generator tasks per task type")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    rows = [row for t in TYPES for row in create_dataset(t, args.answers, seed=1).rows]
    completions = [completion(row, right=i % 2 == 0) for i, row in enumerate(rows)]
    group_rows, group_texts = grpo_groups(
        [row for t in TYPES for row in create_dataset(t, args.groups, seed=2).rows], args.group)
    with Executor(workers=args.workers) as executor:
        serial_glue(executor, rows[:6], completions[:6])  # warm-up
        glue_s = serial_glue(executor, rows, completions)
        batch_s = batched(executor, rows, completions)
        group_glue_s = serial_glue(executor, group_rows, group_texts)
        group_batch_s = batched(executor, group_rows, group_texts)
    glue_rate, batch_rate = len(rows) / glue_s, len(rows) / batch_s
    group_glue, group_batch = len(group_rows) / group_glue_s, len(group_rows) / group_batch_s
    gen = generator_rate(args.workers, args.tasks)
    gen_all = round(3 / sum(1 / r for r in gen.values()), 1)  # tasks/s over an equal mix

    print(f"scoring {len(rows)} answers, one per task ({args.answers} per task type, half right):")
    print(f"  serial glue (reset with the task, step): {glue_rate:8.1f} answers/s "
          f"({1000 * glue_s / len(rows):.1f} ms per answer)")
    print(f"  Scorer.score, one batch:                 {batch_rate:8.1f} answers/s "
          f"-> {batch_rate / glue_rate:.1f}x (goal >= 5x)")
    print(f"scoring {len(group_rows)} answers in GRPO groups of {args.group} (half right, two "
          "wrong values, every text distinct):")
    print(f"  serial glue:                             {group_glue:8.1f} answers/s")
    print(f"  Scorer.score, one batch:                 {group_batch:8.1f} answers/s "
          f"-> {group_batch / group_glue:.1f}x (goal >= 5x)")
    print(f"generator, validated tasks/s on {args.workers} workers (worker isolation): "
          + ", ".join(f"{t} {r:.0f}" for t, r in gen.items())
          + f"; equal mix {gen_all:.0f} (goal >= 1000)")

    record = {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "load_average_1min": round(os.getloadavg()[0], 2),  # the machine is shared: context
        "command": " ".join(["python", "benchmarks/scoring.py", *sys.argv[1:]]),
        "workers": args.workers,
        "answers": len(rows),
        "glue_answers_per_s": round(glue_rate, 1),
        "score_answers_per_s": round(batch_rate, 1),
        "score_speedup": round(batch_rate / glue_rate, 2),
        "group_size": args.group,
        "group_answers": len(group_rows),
        "group_glue_answers_per_s": round(group_glue, 1),
        "group_score_answers_per_s": round(group_batch, 1),
        "group_score_speedup": round(group_batch / group_glue, 2),
        "generator_tasks_per_s": gen,
        "generator_tasks_per_s_mix": gen_all,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
    print(
        "appended to "
        f"{RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}"
    )


if __name__ == "__main__":
    main()
