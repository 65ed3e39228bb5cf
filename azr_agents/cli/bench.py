"""`azr bench estimators|executor|env|rollout|linear_kernels|update_logprobs|train_step|
learning|scoring|parity`.

`estimators` runs the synthetic bandit in-process; the others run the scripts of the repo's
`benchmarks/` folder with this Python (extra arguments are passed on), which print their figures
and append a JSON line to `benchmarks/results/`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from azr_agents.cli.exit_codes import EXIT_USAGE

SCRIPTS = ("executor", "env", "rollout", "linear_kernels", "update_logprobs", "train_step",
           "learning", "scoring", "parity")
BENCHMARKS_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
"""The repo's benchmarks/ (present in a source checkout or editable install, not in a wheel)."""


def _estimators_command(args: argparse.Namespace) -> int:
    from azr_agents.cli.plugins import import_plugin
    from azr_agents.errors import AZRConfigError

    try:
        for spec in args.imports or []:
            import_plugin(spec)
        from azr_agents.benchmarking.specs import EstimatorSpec, parse_lrs, parse_specs
        from azr_agents.estimators import available

        specs = parse_specs(args.estimators or [])
        if args.loop:
            return _loop_command(args, specs)
        if args.overrides:
            raise AZRConfigError(f"config overrides {args.overrides} only apply with --loop")
        specs = specs or [EstimatorSpec(name) for name in available()]
        steps = 100 if args.steps is None else args.steps
        lrs = parse_lrs(args.lr or [], specs, default=0.1)
        if steps < 1 or args.batch < 2 or not args.seeds:
            raise AZRConfigError("--steps >= 1, --batch >= 2 and at least one --seeds value needed")
        out = Path(args.out or Path("runs") / f"bench-estimators-{datetime.now():%Y%m%d-%H%M%S}")
        out.mkdir(parents=True, exist_ok=True)
    except AZRConfigError as exc:
        print(f"azr bench estimators: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from azr_agents.benchmarking.bandit import bench_estimators, plot_curves

    rows, table = bench_estimators(specs, steps=steps, seeds=args.seeds, batch=args.batch, lr=lrs)
    _print_table(rows, table.groups, len(args.seeds))
    record = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "steps": steps, "seeds": args.seeds, "batch": args.batch, "lr": lrs,
              "interval": "95% Student-t interval of the mean over seeds",
              "reward_table_s": round(table.seconds, 3),
              "results": [{k: v for k, v in r.items() if k != "group_curves"} for r in rows]}
    (out / "results.json").write_text(json.dumps({**record, "full": rows}, indent=1) + "\n")
    plot_curves(rows, table.groups, out / "curves.png")
    print(f"wrote {out / 'results.json'} and {out / 'curves.png'}")
    if args.record:
        sys.path.insert(0, str(BENCHMARKS_DIR.parent))
        from benchmarks.provenance import commit, machine

        record = {**record, "commit": commit(), "machine": machine(),
                  "command": "azr bench estimators " + " ".join(sys.argv[3:])}
        results = BENCHMARKS_DIR / "results" / "estimators.jsonl"
        results.parent.mkdir(parents=True, exist_ok=True)
        short = {**record, "results": [{k: v for k, v in r.items() if "curve" not in k}
                                       for r in rows]}
        with results.open("a") as fh:
            fh.write(json.dumps(short) + "\n")
        print(f"appended to {results}")
    return 0


def _loop_command(args: argparse.Namespace, specs: list[Any]) -> int:
    """`--loop`: the same comparison on the real CPU self-play run, by handing the list to
    `benchmarks/learning.py --estimators ...` (what `azr bench learning --estimators` runs)."""
    from azr_agents.errors import AZRConfigError

    if not specs:
        raise AZRConfigError("--loop needs --estimators (each one costs a training run per seed)")
    if args.lr or args.batch != 8 or args.record:
        raise AZRConfigError("--lr, --batch and --record belong to the bandit; with --loop pass "
                             "config overrides instead (e.g. optim.lr=1e-5)")
    script = BENCHMARKS_DIR / "learning.py"
    if not script.is_file():
        raise AZRConfigError(f"{script} not found; --loop needs a source checkout of azr")
    command = [sys.executable, str(script), "--estimators", ",".join(s.label for s in specs),
               "--seeds", *map(str, args.seeds)]
    if args.steps is not None:
        command += ["--steps", str(args.steps)]
    if args.out:
        command += ["--out", str(Path(args.out).resolve())]
    if args.overrides:
        command += ["--", *args.overrides]
    print("running " + " ".join(command[1:]), flush=True)
    return subprocess.call(command, cwd=BENCHMARKS_DIR.parent)


def _print_table(rows: list[dict[str, Any]], groups: list[tuple[str, str]], seeds: int) -> None:
    from rich.console import Console
    from rich.table import Table

    spread = " +- 95% t-interval over seeds" if seeds > 1 else " (one seed: no interval)"
    table = Table(title=f"azr bench estimators (synthetic bandit): expected reward at the end, "
                        f"mean of {seeds} seed(s){spread}")
    table.add_column("estimator")
    table.add_column("lr", justify="right")
    for t, role in groups:
        table.add_column(f"{t[:3]}/{role[:3]}", justify="right")
    for name in ("mean", "start", "adv var", "s"):
        table.add_column(name, justify="right")

    def cell(mean: float, ci: list[float]) -> str:
        return f"{mean:+.3f}" if seeds < 2 else f"{mean:+.3f} +- {(ci[1] - ci[0]) / 2:.3f}"

    for row in rows:
        table.add_row(
            row["estimator"],
            f"{row['lr']:g}",
            *(cell(v, row["final_reward_ci95"][k]) for k, v in row["final_reward"].items()),
            cell(row["final_mean_reward"], row["final_mean_reward_ci95"]),
            f"{row['initial_mean_reward']:+.3f}",
            f"{row['advantage_var']:.3f}",
            f"{row['seconds']:.2f}",
        )
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def _script_command(args: argparse.Namespace) -> int:
    script = BENCHMARKS_DIR / f"{args.bench}.py"
    if not script.is_file():
        print(f"azr bench {args.bench}: {script} not found; run from a source checkout of azr",
              file=sys.stderr)
        return EXIT_USAGE
    return subprocess.call([sys.executable, str(script), *args.rest], cwd=BENCHMARKS_DIR.parent)


def add_parser(sub: Any) -> None:
    """Add `bench` (with its own subcommands) to the `azr` subparsers."""
    p = sub.add_parser("bench",
                       help="benchmarks: estimators (synthetic bandit), executor, env, rollout")
    bench = p.add_subparsers(dest="bench", required=True)
    e = bench.add_parser(
        "estimators",
        help="compare advantage estimators: on a synthetic bandit (seconds), or "
        "with --loop on the real CPU self-play run (an hour of CPU per few runs)",
        description="Compare advantage estimators on the same seeds. By default on a synthetic "
        "bandit (tabular policy, rewards from the real env): mean +- 95% Student-t interval over "
        "seeds, per-seed values in results.json. With --loop, on the real CPU learning run "
        "instead: this runs benchmarks/learning.py --estimators LIST (the same as "
        "`azr bench learning --estimators LIST`; use that form for its other options such as "
        "--parallel).",
    )
    e.add_argument("--steps", type=int, default=None,
                   help="bandit steps (default 100); with --loop, self-play steps (default 20)")
    e.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    e.add_argument("--batch", type=int, default=8, help="bandit: samples per group per step")
    e.add_argument("--lr", action="append", metavar="[NAME=]LR",
                   help="bandit: step size on the logits (default 0.1); NAME=LR for one estimator "
                        "(a name or a full NAME:opt=val label); repeatable, later values win")
    e.add_argument("--estimators", action="append", metavar="LIST",
                   help="comma list of NAME[:KEY=VALUE...], e.g. 'grpo:scale=false,trr++' "
                        "(values read as bool/int/float/str; default: all registered); repeatable")
    e.add_argument("--loop", action="store_true",
                   help="compare on the real loop: runs benchmarks/learning.py --estimators LIST "
                        "--seeds ... [--steps N] [--out DIR] -- OVERRIDES (one cpu-learn run per "
                        "estimator and seed, plus one frozen control)")
    e.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="with --loop: config overrides for every run (e.g. "
                        "selfplay.samples_per_prompt=4, which grpo and rloo need)")
    e.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                   help="import a module or .py file first (registers your estimator)")
    e.add_argument("--out", metavar="DIR", help="default runs/bench-estimators-<time>/ (bandit), "
                   "benchmarks/results/learning/ (--loop)")
    e.add_argument("--record", action="store_true",
                   help="bandit: also append a line to benchmarks/results/estimators.jsonl")
    e.set_defaults(handler=_estimators_command)
    for name in SCRIPTS:
        # "+" as prefix: every "--option" after the name belongs to the script, not to azr.
        s = bench.add_parser(name, help=f"run benchmarks/{name}.py (extra arguments passed on)",
                             prefix_chars="+", add_help=False)
        s.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the script")
        s.set_defaults(handler=_script_command)
