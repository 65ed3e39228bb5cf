"""Proof of learning: does CPU self-play improve the model, on its own curves and on held-out
programs, compared with a frozen control?

    python benchmarks/learning.py --steps 20 --seeds 0 1 2        # or: azr bench learning ...

1. Runs `azr train --preset cpu-learn` for N steps once per seed, and once more with `optim.lr=0`
   (the frozen control: same loop, same buffers logic, weights never move). Runs go in parallel
   (`--parallel`), each in its own process and run folder under OUT/runs/.
2. Scores the held-out probe (`azr_agents.benchmarking.heldout`: 120 simple programs as deduction
   and abduction, plus a CRUXEval-O/-I subset) with greedy decoding, before (the base model) and
   after each run (its last checkpoint). Differences are paired per item, with 95% bootstrap
   intervals. The control's weights are checked to be bit-identical to the base model, so its
   probe score is the base score.
3. Writes OUT/results.json (every seed's values, the commit, machine, date and command),
   OUT/learning.md (the table) and OUT/learning.png (self-play curves: mean and range over seeds,
   the control dashed). Extra `key=value` arguments after `--` are config overrides for every run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's packages, also for the runs (cwd=ROOT)
PRESET = "cpu-learn"
SUITES = ("simple-O", "simple-I", "cruxeval-O", "cruxeval-I")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--no-control", action="store_true", help="skip the frozen (lr=0) control run")
    p.add_argument("--parallel", type=int, default=2, help="runs at a time")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--cruxeval", type=int, default=40, help="CRUXEval problems in the probe")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "learning")
    p.add_argument("--reuse", action="store_true", help="keep finished runs found under OUT/runs")
    p.add_argument("overrides", nargs="*", help="config overrides for every run (key=value)")
    args = p.parse_args(argv)
    if args.steps < 1 or not args.seeds or args.parallel < 1 or args.threads < 1:
        p.error("--steps, --parallel and --threads must be >= 1 and --seeds non-empty")
    return args


# -- 1. the runs -----------------------------------------------------------------------------
def run_specs(args: argparse.Namespace) -> list[dict[str, Any]]:
    specs = [{"name": f"seed{s}", "seed": s, "frozen": False} for s in args.seeds]
    if not args.no_control:
        specs.append({"name": f"frozen-seed{args.seeds[0]}", "seed": args.seeds[0], "frozen": True})
    return specs


def train(spec: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    run_dir = args.out / "runs" / spec["name"]
    final = run_dir / "checkpoints" / f"step-{args.steps:06d}"
    if args.reuse and final.exists():
        return {**spec, "run_dir": str(run_dir), "seconds": None, "reused": True}
    command = [sys.executable, "-m", "azr_agents.cli", "train", "--preset", PRESET,
               "--steps", str(args.steps), "--run-dir", str(run_dir),
               f"run.seed={spec['seed']}", f"policy.seed={spec['seed']}", "run.probe_every=0", f"run.checkpoint_every={args.steps}",
               f"policy.num_threads={args.threads}", *args.overrides]
    if spec["frozen"]:
        command.append("optim.lr=0")
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with (args.out / "runs" / f"{spec['name']}.log").open("w") as log:
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    if code != 0 or not final.exists():
        raise SystemExit(f"run {spec['name']} failed (exit {code}); see {log.name}")
    return {**spec, "run_dir": str(run_dir), "seconds": time.perf_counter() - started,
            "command": " ".join(command[1:])}


# -- 2. the held-out probe -------------------------------------------------------------------
def probe_all(runs: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from safetensors.torch import load_file

    from azr_agents.benchmarking.heldout import probe_items, score_probe
    from azr_agents.config import load_config
    from azr_agents.policies import load_policy
    from azr_env.executor import Executor, ExecutorConfig

    config = load_config(PRESET, list(args.overrides))
    options = {k: v for k, v in vars(config.policy).items() if k not in ("model", "backend")}
    options["num_threads"] = args.threads
    policy = load_policy(config.policy.model, config.policy.backend, **options)
    base_state = {k: v.detach().clone() for k, v in policy.model.state_dict().items()}
    items = probe_items(args.cruxeval)
    env_config = {"format": config.selfplay.format, "induction_inputs": config.selfplay.induction_inputs}
    scores: dict[str, np.ndarray] = {}
    with Executor(ExecutorConfig(timeout_s=config.selfplay.timeout_s)) as executor:
        started = time.perf_counter()
        scores["base"] = score_probe(policy, items, executor, env_config)
        print(f"probe: base model {scores['base'].mean():.3f} ({time.perf_counter() - started:.0f} s)")
        for run in runs:
            weights = load_file(str(Path(run["run_dir"]) / "checkpoints" / f"step-{args.steps:06d}"
                                    / "model.safetensors"))
            if run["frozen"]:
                same = all(torch.equal(weights[k], base_state[k]) for k in weights if k in base_state)
                run["weights_unchanged"] = bool(same)
                scores[run["name"]] = scores["base"]
                continue
            policy.model.load_state_dict(weights, strict=False)
            policy.sync_weights()
            scores[run["name"]] = score_probe(policy, items, executor, env_config)
            print(f"probe: {run['name']} {scores[run['name']].mean():.3f}")
    return {"items": items, "scores": scores}


def summarise(probe: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any]:
    from azr_agents.benchmarking.heldout import bootstrap_interval

    items, scores = probe["items"], probe["scores"]
    suites = np.array([it.suite for it in items])
    base = scores["base"]
    trained = [r for r in runs if not r["frozen"]]
    rows: dict[str, Any] = {}
    for suite in ("all", *SUITES):
        pick = np.ones(len(items), bool) if suite == "all" else suites == suite
        row: dict[str, Any] = {"items": int(pick.sum()), "base": float(base[pick].mean())}
        for run in runs:
            after = scores[run["name"]][pick]
            mean, low, high = bootstrap_interval(after - base[pick])
            row[run["name"]] = {"after": float(after.mean()), "delta": mean, "ci95": [low, high]}
        if trained:
            pooled = np.mean([scores[r["name"]][pick] for r in trained], axis=0)
            mean, low, high = bootstrap_interval(pooled - base[pick])
            row["seeds_mean"] = {"after": float(pooled.mean()), "delta": mean, "ci95": [low, high]}
        rows[suite] = row
    return rows


# -- 3. curves, table, plot ------------------------------------------------------------------
def curves(run_dir: Path) -> dict[str, dict[str, list[float]]]:
    """Per group: valid-proposal rate, solve rate, mean reward and reward std, by step."""
    out: dict[str, dict[str, list[float]]] = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        for group, values in record.get("groups", {}).items():
            entry = out.setdefault(group, {"valid": [], "accuracy": [], "reward": [], "reward_std": []})
            for key in entry:
                entry[key].append(float(values.get(key, float("nan"))))
    return out


def markdown(summary: dict[str, Any], runs: list[dict[str, Any]], curve: dict[str, Any],
             meta: dict[str, Any]) -> str:
    names = [r["name"] for r in runs if not r["frozen"]]
    lines = [f"# azr bench learning ({meta['date']}, commit {meta['commit']})", "",
             f"`{meta['command']}` on {meta['machine']}; {meta['steps']} steps per run.", "",
             "## Held-out probe: greedy accuracy, after - before (95% bootstrap interval)", "",
             "| suite | items | base | " + " | ".join(names) + " | mean of seeds |",
             "|---|---|---|" + "---|" * (len(names) + 1)]
    for suite, row in summary.items():
        cells = [f"{row[n]['after']:.3f} ({row[n]['delta']:+.3f} [{row[n]['ci95'][0]:+.3f}, "
                 f"{row[n]['ci95'][1]:+.3f}])" for n in names]
        pooled = row.get("seeds_mean")
        tail = (f"{pooled['after']:.3f} ({pooled['delta']:+.3f} [{pooled['ci95'][0]:+.3f}, "
                f"{pooled['ci95'][1]:+.3f}])") if pooled else "-"
        lines.append(f"| {suite} | {row['items']} | {row['base']:.3f} | " + " | ".join(cells)
                     + f" | {tail} |")
    lines += ["", "The frozen control (lr=0) keeps the base model's weights"
              + (" (checked bit for bit)" if all(r.get("weights_unchanged") for r in runs if r["frozen"])
                 else "") + ", so its probe score is the base score.", "",
              "## Self-play curves: first 5 steps vs last 5 steps (mean over steps)", "",
              "| run | group | valid proposals | solve rate | reward | reward std |",
              "|---|---|---|---|---|---|"]
    for run in runs:
        for group, values in sorted(curve[run["name"]].items()):
            def span(key: str, values: dict[str, list[float]] = values) -> str:
                series = np.asarray(values[key], float)
                if np.all(np.isnan(series)):
                    return "-"
                return f"{np.nanmean(series[:5]):.2f} -> {np.nanmean(series[-5:]):.2f}"
            lines.append(f"| {run['name']} | {group} | {span('valid')} | {span('accuracy')} | "
                         f"{span('reward')} | {span('reward_std')} |")
    lines += ["", "Run times: " + ", ".join(
        f"{r['name']} {r['seconds'] / 60:.1f} min" for r in runs if r.get("seconds")), ""]
    return "\n".join(lines)


def plot(curve: dict[str, Any], runs: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("valid", "valid-proposal rate", "propose"), ("accuracy", "solve rate", "solve"),
              ("reward", "mean reward", None), ("reward_std", "reward std (TRR++ signal)", None)]
    groups = sorted({g for r in runs for g in curve[r["name"]]})
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5), sharex=True)
    colors = dict(zip(groups, plt.get_cmap("tab10").colors, strict=False))
    for ax, (key, title, role) in zip(axes.flat, panels, strict=True):
        for group in groups:
            if role and not group.endswith(role):
                continue
            for frozen in (False, True):
                series = [curve[r["name"]][group][key] for r in runs
                          if r["frozen"] == frozen and group in curve[r["name"]]]
                if not series:
                    continue
                width = min(len(s) for s in series)
                data = np.asarray([s[:width] for s in series], float)
                steps = np.arange(1, width + 1)
                label = f"{group}{' (frozen)' if frozen else ''}"
                style = "--" if frozen else "-"
                ax.plot(steps, np.nanmean(data, axis=0), style, color=colors[group], label=label,
                        alpha=0.6 if frozen else 1.0)
                if not frozen and len(series) > 1:
                    ax.fill_between(steps, np.nanmin(data, axis=0), np.nanmax(data, axis=0),
                                    color=colors[group], alpha=0.15)
        ax.set_title(title)
        ax.set_xlabel("self-play step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("azr bench learning: cpu-learn self-play (line: mean over seeds, band: range; "
                 "dashed: frozen control)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def meta(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip() or "unknown"
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": commit,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'cpu'}",
            "command": "python benchmarks/learning.py " + " ".join(argv), "steps": args.steps,
            "seeds": args.seeds, "threads": args.threads, "parallel": args.parallel}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    info = meta(args, argv)
    specs = run_specs(args)
    print(f"training {len(specs)} runs of {args.steps} steps, {args.parallel} at a time ...")
    with ThreadPoolExecutor(args.parallel) as pool:
        runs = list(pool.map(lambda s: train(s, args), specs))
    probe = probe_all(runs, args)
    summary = summarise(probe, runs)
    curve = {r["name"]: curves(Path(r["run_dir"])) for r in runs}
    record = {**info, "runs": runs, "probe": summary, "curves": curve,
              "probe_scores": {k: v.tolist() for k, v in probe["scores"].items()},
              "probe_suites": [it.suite for it in probe["items"]]}
    (args.out / "results.json").write_text(json.dumps(record, indent=1) + "\n")
    table = markdown(summary, runs, curve, info)
    (args.out / "learning.md").write_text(table)
    plot(curve, runs, args.out / "learning.png")
    print(table)
    print(f"wrote {args.out / 'results.json'}, learning.md and learning.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
