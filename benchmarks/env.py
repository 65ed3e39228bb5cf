"""Environment throughput with a scripted proposer and solver (no LLM), and its share of a step.

Measured on this machine, through the native vector env on one executor:
- proposals validated per second (deduction proposals, no solver: validation only);
- solve steps scored per second (deduction, abduction and induction answers, half of them right);
- the env's time for one self-play step at the cpu-smoke batch size (B=4 per group, n=4
  learnability attempts, 6 groups), with an instantaneous scripted solver, and its share of a
  step given an LLM time per step. The LLM time is an input (`--llm-seconds`), not measured here:
  the default of 60 s is a stated estimate for cpu-smoke on a 2-core CPU (SmolLM2-135M generating
  24 completions + 48 learnability attempts of ~128 tokens at ~150 tokens/s batched). Goal: env +
  executor <= 2% of a step.

Appends one JSON line to `benchmarks/results/env.jsonl`.

    python benchmarks/env.py [--batch 32] [--rounds 5] [--llm-seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# Measure this checkout's azr_env, whatever copy is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym

import azr_env  # noqa: F401  (registers the ids)
from azr_env.executor import Executor
from benchmarks.provenance import commit, machine

RESULTS = Path(__file__).resolve().parent / "results" / "env.jsonl"

PROGRAM = (
    "def f(xs, k):\n"
    "    seen = {}\n"
    "    for i, x in enumerate(xs):\n"
    "        seen[x % k] = seen.get(x % k, 0) + i\n"
    "    return sorted(seen.items())[:{n}]\n"
)


def wrap(body: str) -> str:
    return f"<think>scripted</think>\n<answer>\n{body}\n</answer>"


def proposal(i: int) -> str:
    """A distinct valid deduction/abduction proposal per index."""
    program = PROGRAM.replace("{n}", str(2 + i % 5)).replace("k):", f"k, _tag={i}):")
    return wrap(f"```python\n{program}```\n```input\n[3, 1, {i}, 4, 1, 5], {2 + i % 3}\n```")


def induction_proposal(i: int) -> str:
    inputs = "\n".join(f"```input\n[{j}, {i}, {j * 7 % 5}], 3\n```" for j in range(10))
    return wrap(f"{inputs}\n```message\nGroup positions by residue.\n```")


def scripted_solver(prompts: list[str]) -> list[str]:
    """Half the attempts answer with a plausible value, half with nothing: a learnable task."""
    return [
        wrap(
            "```output\n[(0, 2)]\n```\n```input\n[2], 2\n```\n```python\ndef f(xs, k):\n"
            "    return [(0, 2)]\n```"
        )
        if i % 2
        else "no answer"
        for i, _ in enumerate(prompts)
    ]


def plausible_answer(task_type: str) -> str:
    """A well-formed answer of the right kind (its value does not matter for timing the env)."""
    if task_type == "deduction":
        return wrap("```output\n[(0, 1)]\n```")
    if task_type == "abduction":
        return wrap("```input\n[3, 1, 4], 2\n```")
    return wrap("```python\ndef f(xs, k):\n    return sorted((x % k, 0) for x in xs)[:2]\n```")


GOLD_FIELD = {"deduction": ("outputs", "output"), "abduction": ("inputs", "input"),
              "induction": ("program", "python")}
"""Where a task's gold answer is in the reset info, and the block a solver writes it in."""


def solve_answer(task: dict[str, Any], task_type: str, i: int) -> str:
    """The gold answer for even i, a wrong one for odd i: half the answers are right."""
    field, kind = GOLD_FIELD[task_type]
    gold = task[field][i]
    gold = gold[0] if isinstance(gold, (list, tuple)) else gold
    if i % 2:
        gold = {"output": "'certainly not this'", "input": "'not an input'",
                "python": "def f(*a):\n    return 'never'"}[kind]
    return wrap(f"```{kind}\n{gold}\n```")


def vec(env_id: str, batch: int, executor: Executor, **kwargs: Any) -> Any:
    return gym.make_vec(env_id, num_envs=batch, vectorization_mode="vector_entry_point",
                        executor=executor, **kwargs)


def proposals_per_second(executor: Executor, batch: int, rounds: int) -> float:
    venv = vec("azr_env/Deduction-Propose-v0", batch, executor)
    venv.reset(seed=0)
    started = time.perf_counter()
    for r in range(rounds):
        _, rewards, *_ = venv.step([proposal(r * batch + i) for i in range(batch)])
        assert (rewards == 0.0).all(), rewards
    elapsed = time.perf_counter() - started
    venv.close()
    return batch * rounds / elapsed


def solves_per_second(executor: Executor, batch: int, rounds: int) -> dict[str, float]:
    """Answers scored per second on generated tasks, half of them right (checked)."""
    out = {}
    for task_type in ("deduction", "abduction", "induction"):
        venv = vec(f"azr_env/{task_type.capitalize()}-Solve-v0", batch, executor,
                   source="generator", reveal_answers=True)
        _, info = venv.reset(seed=0)
        elapsed = 0.0
        for _ in range(rounds):
            answers = [solve_answer(info["task"], task_type, i) for i in range(batch)]
            started = time.perf_counter()
            _, rewards, *_ = venv.step(answers)
            elapsed += time.perf_counter() - started
            # gold answers always score 1; a "wrong" abduction input may still fit by chance
            assert all(r == 1.0 for r in rewards[::2]), (task_type, list(rewards))
            assert all(r in (1.0, -0.5) for r in rewards[1::2]), (task_type, list(rewards))
            _, info = venv.reset()  # the next tasks (each sub-env's RNG stream goes on)
        out[task_type] = batch * rounds / elapsed
        venv.close()
    return out


def selfplay_step_seconds(executor: Executor, batch: int, samples: int, steps: int) -> float:
    """Env time of one self-play step (six vector steps: propose x3, solve x3), averaged."""
    venv = vec("azr_env/SelfPlay-v0", batch, executor, solver=scripted_solver,
               rewards={"mode": "paper", "num_samples": samples})
    obs, _ = venv.reset(seed=0)
    started = time.perf_counter()
    for s in range(steps * 6):
        actions = []
        for i in range(batch):
            kind, role = obs["task_type"][i], obs["role"][i]
            if role == "propose":
                actions.append(induction_proposal(s * batch + i) if kind == "induction"
                               else proposal(s * batch + i))
            else:
                actions.append(plausible_answer(kind))
        obs, *_ = venv.step(actions)
    elapsed = (time.perf_counter() - started) / steps
    venv.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32, help="sub-envs for the throughput runs")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke-batch", type=int, default=4, help="cpu-smoke B per group")
    parser.add_argument("--smoke-samples", type=int, default=4, help="cpu-smoke n")
    parser.add_argument("--selfplay-steps", type=int, default=3)
    parser.add_argument("--llm-seconds", type=float, default=60.0,
                        help="LLM time of one cpu-smoke self-play step (a stated estimate)")
    args = parser.parse_args()

    with Executor(timeout_s=5.0) as executor:
        proposals = proposals_per_second(executor, args.batch, args.rounds)
        solves = solves_per_second(executor, args.batch, args.rounds)
        env_s = selfplay_step_seconds(executor, args.smoke_batch, args.smoke_samples,
                                      args.selfplay_steps)
        workers = executor.config.worker_count
    share = env_s / (env_s + args.llm_seconds)
    print(f"proposals validated/s   {proposals:8.1f}   (deduction, B={args.batch}, no solver)")
    for task_type, rate in solves.items():
        print(f"solve steps scored/s    {rate:8.1f}   ({task_type}, B={args.batch})")
    print(f"env time per self-play step  {env_s * 1000:7.1f} ms  (B={args.smoke_batch} x 6 groups, "
          f"n={args.smoke_samples}, scripted solver)")
    print(
        f"env share of a step     {share * 100:8.2f} %  (LLM time {args.llm_seconds:g} s per step: "
        "stated estimate, not measured; goal <= 2 %)"
    )
    record = {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": commit(), "machine": machine(),
        "command": "python benchmarks/env.py " + " ".join(sys.argv[1:]),
        "cpus": os.cpu_count(), "workers": workers, "batch": args.batch, "rounds": args.rounds,
        "proposals_per_s": round(proposals, 1),
        "solves_per_s": {k: round(v, 1) for k, v in solves.items()},
        "smoke_batch": args.smoke_batch, "smoke_samples": args.smoke_samples,
        "env_s_per_selfplay_step": round(env_s, 4),
        "llm_s_per_step": args.llm_seconds, "llm_time_source": "stated estimate",
        "env_share": round(share, 5),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
