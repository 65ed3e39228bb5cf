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

Comparing estimators on this loop (`azr bench estimators --loop` runs this):

    python benchmarks/learning.py --estimators "trr++,grpo:scale=false" --
    selfplay.samples_per_prompt=4

runs every estimator (with its options, as `estimator.name=` / `estimator.options.KEY=`
overrides) for every seed, as runs `<estimator>-seed<k>`, plus the one frozen control; the table
and plot then compare estimators: per-seed probe deltas, their mean with a bootstrap interval
over items and one over seeds and items, and each estimator against the first. Without
`--estimators` the preset's estimator runs as `seed<k>`, as before. `--report-only` rebuilds
learning.md and learning.png from an existing OUT/results.json (no training, no model).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
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
    p.add_argument("--estimators", action="append", metavar="LIST",
                   help="compare estimators: comma list of NAME[:KEY=VALUE...], e.g. "
                        "'trr++,grpo:scale=false'; one run per estimator and seed")
    p.add_argument("--report-only", action="store_true",
                   help="only rebuild learning.md and learning.png from OUT/results.json")
    p.add_argument("overrides", nargs="*", help="config overrides for every run (key=value)")
    args = p.parse_args(argv)
    if args.steps < 1 or not args.seeds or args.parallel < 1 or args.threads < 1:
        p.error("--steps, --parallel and --threads must be >= 1 and --seeds non-empty")
    args.estimator_specs = []
    if args.estimators:
        from azr_agents.benchmarking.specs import parse_specs
        from azr_agents.errors import AZRConfigError

        try:
            args.estimator_specs = parse_specs(args.estimators)
        except AZRConfigError as exc:
            p.error(str(exc))
        clash = [o for o in args.overrides if o.startswith("estimator.")]
        if clash:
            p.error(f"--estimators sets the estimator of each run; drop the overrides {clash}")
    return args


# -- 1. the runs -----------------------------------------------------------------------------
def run_specs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The runs to train: one per seed (per estimator and seed with --estimators), then the
    frozen control, which is one run whatever the estimators (with lr=0 none of them acts)."""
    specs: list[dict[str, Any]] = [{"name": f"seed{s}", "seed": s, "frozen": False}
                                   for s in args.seeds]
    if args.estimator_specs:
        specs = [{"name": f"{e.slug}-seed{s}", "seed": s, "frozen": False, "estimator": e.label,
                  "overrides": e.overrides()} for e in args.estimator_specs for s in args.seeds]
    if not args.no_control:
        specs.append({"name": f"frozen-seed{args.seeds[0]}", "seed": args.seeds[0], "frozen": True})
    return specs


def train_command(spec: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """The `azr train` command of one run: the preset, its seed, the user's overrides, then the
    run's estimator (or lr=0 for the control), last so that they win."""
    command = [sys.executable, "-m", "azr_agents.cli", "train", "--preset", PRESET,
               "--steps", str(args.steps), "--run-dir", str(args.out / "runs" / spec["name"]),
               f"run.seed={spec['seed']}", f"policy.seed={spec['seed']}", "run.probe_every=0",
               f"run.checkpoint_every={args.steps}", f"policy.num_threads={args.threads}",
               *args.overrides, *spec.get("overrides", [])]
    if spec["frozen"]:
        command.append("optim.lr=0")
    return command


def train(spec: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    run_dir = args.out / "runs" / spec["name"]
    final = run_dir / "checkpoints" / f"step-{args.steps:06d}"
    if args.reuse and final.exists():
        return {**spec, "run_dir": str(run_dir), "seconds": None, "reused": True}
    command = train_command(spec, args)
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
    from azr_env.executor import Executor

    config = load_config(PRESET, list(args.overrides))
    options = {k: v for k, v in vars(config.policy).items() if k not in ("model", "backend")}
    options["num_threads"] = args.threads
    policy = load_policy(config.policy.model, config.policy.backend, **options)
    base_state = {k: v.detach().clone() for k, v in policy.model.state_dict().items()}
    items = probe_items(args.cruxeval)
    env_config = config.selfplay.env  # the probe poses solve tasks as the run's envs do
    scores: dict[str, np.ndarray] = {}
    with Executor(env_config.executor) as executor:
        started = time.perf_counter()
        scores["base"] = score_probe(policy, items, executor, env_config)
        print(
            f"probe: base model {scores['base'].mean():.3f} ({time.perf_counter() - started:.0f} s)"
        )
        for run in runs:
            weights = load_file(str(Path(run["run_dir"]) / "checkpoints" / f"step-{args.steps:06d}"
                                    / "model.safetensors"))
            if run["frozen"]:
                same = all(
                    torch.equal(weights[k], base_state[k]) for k in weights if k in base_state
                )
                run["weights_unchanged"] = bool(same)
                scores[run["name"]] = scores["base"]
                continue
            policy.model.load_state_dict(weights, strict=False)
            policy.sync_weights()
            scores[run["name"]] = score_probe(policy, items, executor, env_config)
            print(f"probe: {run['name']} {scores[run['name']].mean():.3f}")
    return {"items": items, "scores": scores}


def estimator_groups(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The trained runs by estimator label, in run order; {} for a run without --estimators
    (its runs, and those of results.json files written before --estimators, have no label)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        if not run["frozen"] and run.get("estimator"):
            groups.setdefault(run["estimator"], []).append(run)
    return groups


def summarise(scores: dict[str, np.ndarray], suites: list[str],
              runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per suite: the base accuracy and, per run, accuracy after and the paired delta with its
    item-bootstrap interval. One estimator: `seeds_mean` pools the seeds. Several: `estimators`
    holds, per estimator, the pooled delta, an item-bootstrap and a seed-and-item-bootstrap
    interval, the per-seed deltas, and (after the first) the paired difference to the first."""
    from azr_agents.benchmarking.heldout import bootstrap_interval, seed_item_bootstrap

    suite_of = np.asarray(suites)
    base = np.asarray(scores["base"], float)
    trained = [r for r in runs if not r["frozen"]]
    groups = estimator_groups(runs)
    rows: dict[str, Any] = {}
    for suite in ("all", *SUITES):
        pick = np.ones(len(suite_of), bool) if suite == "all" else suite_of == suite
        row: dict[str, Any] = {"items": int(pick.sum()), "base": float(base[pick].mean())}
        for run in runs:
            after = np.asarray(scores[run["name"]], float)[pick]
            mean, low, high = bootstrap_interval(after - base[pick])
            row[run["name"]] = {"after": float(after.mean()), "delta": mean, "ci95": [low, high]}
        if trained and not groups:
            pooled = np.mean([scores[r["name"]] for r in trained], axis=0)[pick]
            mean, low, high = bootstrap_interval(pooled - base[pick])
            row["seeds_mean"] = {"after": float(pooled.mean()), "delta": mean, "ci95": [low, high]}
        pooled_by: dict[str, np.ndarray] = {}
        for label, members in groups.items():
            afters = np.asarray([scores[r["name"]] for r in members], float)[:, pick]
            pooled_by[label] = afters.mean(axis=0)
            mean, low, high = bootstrap_interval(pooled_by[label] - base[pick])
            _, seed_low, seed_high = seed_item_bootstrap(afters - base[pick])
            seed_deltas = (afters - base[pick]).mean(axis=1)
            entry = {"after": float(afters.mean()), "delta": mean, "ci95": [low, high],
                     "ci95_seeds_items": [seed_low, seed_high],
                     "seeds": [r["seed"] for r in members],
                     "seed_deltas": [float(d) for d in seed_deltas],
                     "seed_sd": float(seed_deltas.std(ddof=1)) if len(members) > 1 else 0.0}
            first = next(iter(pooled_by))
            if label != first:
                mean, low, high = bootstrap_interval(pooled_by[label] - pooled_by[first])
                entry["vs_first"] = {"against": first, "delta": mean, "ci95": [low, high]}
            row.setdefault("estimators", {})[label] = entry
        rows[suite] = row
    return rows


# -- 3. curves, table, plot ------------------------------------------------------------------
def curves(run_dir: Path) -> dict[str, dict[str, list[float]]]:
    """Per group: valid-proposal rate, solve rate, mean reward and reward std, by step."""
    out: dict[str, dict[str, list[float]]] = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        for group, values in record.get("groups", {}).items():
            entry = out.setdefault(group,
                                   {"valid": [], "accuracy": [], "reward": [], "reward_std": []})
            for key in entry:
                entry[key].append(float(values.get(key, float("nan"))))
    return out


def _interval(entry: dict[str, Any], key: str = "ci95") -> str:
    return f"{entry['delta']:+.3f} [{entry[key][0]:+.3f}, {entry[key][1]:+.3f}]"


def _table_by_run(summary: dict[str, Any], runs: list[dict[str, Any]]) -> list[str]:
    """One estimator: a column per seed and the mean of seeds (the layout before --estimators)."""
    names = [r["name"] for r in runs if not r["frozen"]]
    lines = ["## Held-out probe: greedy accuracy, after - before (95% bootstrap interval)", "",
             "| suite | items | base | " + " | ".join(names) + " | mean of seeds |",
             "|---|---|---|" + "---|" * (len(names) + 1)]
    for suite, row in summary.items():
        cells = [f"{row[n]['after']:.3f} ({_interval(row[n])})" for n in names]
        pooled = row.get("seeds_mean")
        tail = f"{pooled['after']:.3f} ({_interval(pooled)})" if pooled else "-"
        lines.append(f"| {suite} | {row['items']} | {row['base']:.3f} | " + " | ".join(cells)
                     + f" | {tail} |")
    return lines


def _table_by_estimator(summary: dict[str, Any]) -> list[str]:
    """Several estimators: a row per suite and estimator, with the spread over seeds."""
    labels = list(summary["all"]["estimators"])
    lines = ["## Held-out probe by estimator: greedy accuracy after training, after - before", "",
             "Delta: mean over seeds of the paired per-item difference with the base model; "
             "`items`: 95% bootstrap interval resampling items; `seeds x items`: resampling seeds "
             f"and items (counts seed-to-seed spread); `vs {labels[0]}`: paired difference of "
             "the seed-mean accuracies, items resampled.", "",
             f"| suite | estimator | base | after | delta [items] | [seeds x items] | "
             f"per-seed deltas (sd) | vs {labels[0]} |", "|---|---|---|---|---|---|---|---|"]
    for suite, row in summary.items():
        for label, entry in row["estimators"].items():
            seeds = ", ".join(f"{d:+.3f}" for d in entry["seed_deltas"])
            versus = _interval(entry["vs_first"]) if "vs_first" in entry else "-"
            lines.append(
                f"| {suite} ({row['items']}) | {label} | {row['base']:.3f} | "
                f"{entry['after']:.3f} | {_interval(entry)} | "
                f"[{entry['ci95_seeds_items'][0]:+.3f}, {entry['ci95_seeds_items'][1]:+.3f}] "
                f"| {seeds} ({entry['seed_sd']:.3f}) | {versus} |"
            )
    return lines


def markdown(summary: dict[str, Any], runs: list[dict[str, Any]], curve: dict[str, Any],
             meta: dict[str, Any]) -> str:
    lines = [f"# azr bench learning ({meta['date']}, commit {meta['commit']})", "",
             f"`{meta['command']}` on {meta['machine']}; {meta['steps']} steps per run.", ""]
    by_estimator = "estimators" in summary["all"]
    lines += _table_by_estimator(summary) if by_estimator else _table_by_run(summary, runs)
    lines += [
        "",
        "The frozen control (lr=0) keeps the base model's weights"
        + (
            " (checked bit for bit)"
            if all(r.get("weights_unchanged") for r in runs if r["frozen"])
            else ""
        )
        + ", so its probe score is the base score.",
        "",
        "## Self-play curves: first 5 steps vs last 5 steps (mean over steps)",
        "",
        "| run | group | valid proposals | solve rate | reward | reward std |",
        "|---|---|---|---|---|---|",
    ]
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


PANELS = [("valid", "valid-proposal rate", "propose"), ("accuracy", "solve rate", "solve"),
          ("reward", "mean reward", None), ("reward_std", "reward std (TRR++ signal)", None)]


def plot(curve: dict[str, Any], runs: list[dict[str, Any]], path: Path) -> None:
    """One line per (task type, role) group, mean over seeds with its range; the control dashed.
    With several estimators, `plot_estimators` instead."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if estimator_groups(runs):
        plot_estimators(curve, runs, path)
        return
    groups = sorted({g for r in runs for g in curve[r["name"]]})
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5), sharex=True)
    colors = dict(zip(groups, plt.get_cmap("tab10").colors, strict=False))
    for ax, (key, title, role) in zip(axes.flat, PANELS, strict=True):
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
                with warnings.catch_warnings():  # a metric a group never logs stays a gap
                    warnings.simplefilter("ignore", RuntimeWarning)
                    ax.plot(steps, np.nanmean(data, axis=0), style, color=colors[group],
                            label=label, alpha=0.6 if frozen else 1.0)
                    if not frozen and len(series) > 1:
                        ax.fill_between(steps, np.nanmin(data, axis=0), np.nanmax(data, axis=0),
                                        color=colors[group], alpha=0.15)
        _style(ax, title)
    _save(fig, path, "azr bench learning: cpu-learn self-play (line: mean over seeds, band: "
          "range; dashed: frozen control)")


def role_series(run_curve: dict[str, dict[str, list[float]]], key: str,
                role: str | None) -> np.ndarray:
    """One run's `key` by step, averaged over the groups of `role` (all groups if None)."""
    series = [values[key] for group, values in run_curve.items()
              if role is None or group.endswith(role)]
    if not series:
        return np.full(0, np.nan)
    width = min(len(s) for s in series)
    data = np.asarray([s[:width] for s in series], float)
    if np.all(np.isnan(data)):
        return np.full(width, np.nan)
    return np.asarray(np.nanmean(data, axis=0))


def plot_estimators(curve: dict[str, Any], runs: list[dict[str, Any]], path: Path) -> None:
    """One line per estimator (groups of a role averaged; mean over seeds, band: range over
    seeds), the frozen control as a dashed grey line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = estimator_groups(runs)
    lines = {**groups, "frozen control": [r for r in runs if r["frozen"]]}
    colors = dict(zip(groups, plt.get_cmap("tab10").colors, strict=False))
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5), sharex=True)
    for ax, (key, title, role) in zip(axes.flat, PANELS, strict=True):
        for label, members in lines.items():
            series = [role_series(curve[r["name"]], key, role) for r in members]
            series = [s for s in series if s.size]
            if not series:
                continue
            width = min(s.size for s in series)
            data = np.asarray([s[:width] for s in series], float)
            steps = np.arange(1, width + 1)
            frozen = label == "frozen control"
            color = "grey" if frozen else colors[label]
            with warnings.catch_warnings():  # an all-NaN step (a metric not logged) stays a gap
                warnings.simplefilter("ignore", RuntimeWarning)
                ax.plot(steps, np.nanmean(data, axis=0), "--" if frozen else "-", color=color,
                        label=label, alpha=0.7 if frozen else 1.0)
                if not frozen and len(series) > 1:
                    ax.fill_between(steps, np.nanmin(data, axis=0), np.nanmax(data, axis=0),
                                    color=color, alpha=0.15)
        _style(ax, title + ("" if role else " (all groups)"))
    _save(fig, path, "azr bench learning by estimator: cpu-learn self-play (line: mean over "
          "seeds, band: range over seeds; dashed: frozen control)")


def _style(ax: Any, title: str) -> None:
    ax.set_title(title)
    ax.set_xlabel("self-play step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _save(fig: Any, path: Path, title: str) -> None:
    import matplotlib.pyplot as plt

    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def meta(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    from benchmarks.provenance import commit, machine

    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": commit(),
            "machine": machine(),
            "command": "python benchmarks/learning.py " + " ".join(argv), "steps": args.steps,
            "seeds": args.seeds, "threads": args.threads, "parallel": args.parallel}


def report(record: dict[str, Any], out: Path) -> str:
    """Write OUT/learning.md and OUT/learning.png from a results record (fresh, or read back
    from results.json: only its runs, curves, probe_scores and probe_suites are needed)."""
    runs, curve = record["runs"], record["curves"]
    scores = {k: np.asarray(v, float) for k, v in record["probe_scores"].items()}
    summary = summarise(scores, record["probe_suites"], runs)
    table = markdown(summary, runs, curve, record)
    (out / "learning.md").write_text(table)
    plot(curve, runs, out / "learning.png")
    return table


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.report_only:
        if not (args.out / "results.json").is_file():
            print(f"--report-only: no {args.out / 'results.json'}; give --out the folder of a "
                  "finished benchmark", file=sys.stderr)
            return 2
        table = report(json.loads((args.out / "results.json").read_text()), args.out)
        print(table)
        print(f"wrote {args.out / 'learning.md'} and learning.png from results.json")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    info = meta(args, argv)
    specs = run_specs(args)
    if args.estimator_specs:
        info["estimators"] = [e.label for e in args.estimator_specs]
        warn_single_sample(args)
    print(f"training {len(specs)} runs of {args.steps} steps, {args.parallel} at a time ...")
    with ThreadPoolExecutor(args.parallel) as pool:
        runs = list(pool.map(lambda s: train(s, args), specs))
    probe = probe_all(runs, args)
    suites = [it.suite for it in probe["items"]]
    record = {**info, "runs": runs, "probe": summarise(probe["scores"], suites, runs),
              "curves": {r["name"]: curves(Path(r["run_dir"])) for r in runs},
              "probe_scores": {k: v.tolist() for k, v in probe["scores"].items()},
              "probe_suites": suites}
    (args.out / "results.json").write_text(json.dumps(record, indent=1) + "\n")
    print(report(record, args.out))
    print(f"wrote {args.out / 'results.json'}, learning.md and learning.png")
    return 0


def warn_single_sample(args: argparse.Namespace) -> None:
    """grpo and rloo compare the samples of one prompt: with one sample per prompt they give 0."""
    from azr_agents.config import load_config

    per_prompt = {"grpo", "rloo"} & {e.name for e in args.estimator_specs}
    if per_prompt and load_config(PRESET, list(args.overrides)).selfplay.samples_per_prompt < 2:
        print(f"warning: {', '.join(sorted(per_prompt))} need selfplay.samples_per_prompt >= 2 "
              "(one sample per prompt gives them zero advantages); add e.g. "
              "`-- selfplay.samples_per_prompt=4`", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
