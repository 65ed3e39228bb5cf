"""Wall time of whole self-play steps (`azr train`), with the trainer's own breakdown.

Why: the figure a CPU user pays is a step of the preset they run, not any one kernel. This runs
`azr train --preset P --steps N` (probe off unless overridden) in a temporary run folder, then
records every step's `time_s` (generation, env, update forward/backward/optimizer), generation
tokens/s, peak RSS, and the update's padding and skipped samples, plus the run's total wall
time. Appends one JSON record (commit, machine, date, command) to
benchmarks/results/train_step.jsonl.

    python benchmarks/train_step.py --preset cpu-smoke --steps 1
    python benchmarks/train_step.py --preset cpu-smoke --steps 1 optim.skip_zero_advantage=false
    python benchmarks/train_step.py --preset cpu-learn --steps 16 run.probe_every=8
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.provenance import commit, machine

RESULTS = Path(__file__).parent / "results" / "train_step.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="cpu-learn")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("overrides", nargs="*", help="key=value config overrides for azr train")
    args = parser.parse_args()
    code_commit = commit()
    run_dir = Path(tempfile.mkdtemp(prefix="azr-train-step-"))
    overrides = ["run.probe_every=0", *args.overrides]
    command = [sys.executable, "-m", "azr_agents.cli", "train", "--preset", args.preset,
               "--steps", str(args.steps), "--run-dir", str(run_dir / "run"), *overrides]
    started = time.perf_counter()
    finished = subprocess.run(command, check=False)
    wall = time.perf_counter() - started
    metrics = run_dir / "run" / "metrics.jsonl"
    if finished.returncode != 0 or not metrics.exists():
        shutil.rmtree(run_dir, ignore_errors=True)
        sys.exit(f"azr train exited with {finished.returncode}; nothing recorded")
    steps = []
    for line in metrics.read_text().splitlines():
        record = json.loads(line)
        if "time_s" not in record:  # a probe's record, not a step's
            continue
        update = record.get("update", {})
        steps.append({
            "step": record["step"],
            "time_s": {k: round(v, 2) for k, v in record["time_s"].items()},
            "tokens_per_s": round(record["tokens_per_s"], 1),
            "peak_rss_gib": round(record["peak_rss_gib"], 2),
            "trained_samples": update.get("trained_samples"),
            "skipped_samples": update.get("skipped_samples"),
            "padding_fraction": update.get("padding_fraction"),
        })
    shutil.rmtree(run_dir, ignore_errors=True)
    step_s = [s["time_s"]["step"] for s in steps]
    print(f"{args.preset}: {len(steps)} steps, step time median {statistics.median(step_s):.1f} s "
          f"(min {min(step_s):.1f}, max {max(step_s):.1f}), whole run {wall:.0f} s")
    for s in steps:
        parts = "  ".join(f"{k} {v:.1f}" for k, v in s["time_s"].items())
        print(f"  step {s['step']}: {parts}  | {s['tokens_per_s']} tok/s, peak RSS "
              f"{s['peak_rss_gib']} GiB, skipped {s['skipped_samples']} of {s['trained_samples']}")
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "commit": code_commit, "machine": machine(),
        "command": "python benchmarks/train_step.py " + " ".join(sys.argv[1:]),
        "preset": args.preset, "overrides": overrides, "wall_s": round(wall, 1), "steps": steps,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
