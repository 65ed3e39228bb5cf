"""`azr bench estimators|executor|env|rollout|update_logprobs|learning|scoring`.

`estimators` runs the synthetic bandit in-process; the others run the scripts of the repo's
`benchmarks/` folder with this Python (extra arguments are passed on), which print their figures
and append a JSON line to `benchmarks/results/`.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

EXIT_USAGE = 2
SCRIPTS = ("executor", "env", "rollout", "update_logprobs", "learning", "scoring")
BENCHMARKS_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
"""The repo's benchmarks/ (present in a source checkout or editable install, not in a wheel)."""


def import_plugin(spec: str) -> None:
    """Import a module by dotted name or a .py file path, for its `@register` side effects."""
    from azr_agents.errors import AZRConfigError

    if spec.endswith(".py"):
        path = Path(spec)
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        if not path.is_file() or module_spec is None or module_spec.loader is None:
            raise AZRConfigError(f"--import {spec}: no such Python file")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[path.stem] = module
        module_spec.loader.exec_module(module)
        return
    try:
        importlib.import_module(spec)
    except ImportError as exc:
        raise AZRConfigError(f"--import {spec}: {exc}") from exc


def _estimators_command(args: argparse.Namespace) -> int:
    from azr_agents.errors import AZRConfigError

    try:
        for spec in args.imports or []:
            import_plugin(spec)
        from azr_agents.estimators import available

        names = [n.strip() for v in args.estimators or [] for n in v.split(",") if n.strip()] \
            or available()
        unknown = [n for n in names if n not in available()]
        if unknown:
            raise AZRConfigError(f"unknown estimator(s) {unknown}; available: {', '.join(available())}")
        if args.steps < 1 or args.batch < 2 or not args.seeds:
            raise AZRConfigError("--steps >= 1, --batch >= 2 and at least one --seeds value needed")
        out = Path(args.out or Path("runs") / f"bench-estimators-{datetime.now():%Y%m%d-%H%M%S}")
        out.mkdir(parents=True, exist_ok=True)
    except AZRConfigError as exc:
        print(f"azr bench estimators: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from azr_agents.benchmarking.bandit import bench_estimators, plot_curves

    rows, table = bench_estimators(names, steps=args.steps, seeds=args.seeds, batch=args.batch,
                                   lr=args.lr)
    _print_table(rows, table.groups)
    record = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "steps": args.steps, "seeds": args.seeds, "batch": args.batch, "lr": args.lr,
              "reward_table_s": round(table.seconds, 3),
              "results": [{k: v for k, v in r.items() if k != "group_curves"} for r in rows]}
    (out / "results.json").write_text(json.dumps({**record, "full": rows}, indent=1) + "\n")
    plot_curves(rows, table.groups, out / "curves.png")
    print(f"wrote {out / 'results.json'} and {out / 'curves.png'}")
    if args.record:
        results = BENCHMARKS_DIR / "results" / "estimators.jsonl"
        results.parent.mkdir(parents=True, exist_ok=True)
        short = {**record, "results": [{k: v for k, v in r.items() if "curve" not in k}
                                       for r in rows]}
        with results.open("a") as fh:
            fh.write(json.dumps(short) + "\n")
        print(f"appended to {results}")
    return 0


def _print_table(rows: list[dict[str, Any]], groups: list[tuple[str, str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="azr bench estimators (synthetic bandit, expected reward at the end)")
    table.add_column("estimator")
    for t, role in groups:
        table.add_column(f"{t[:3]}/{role[:3]}", justify="right")
    for name in ("mean", "start", "adv var", "s"):
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(row["estimator"], *(f"{v:+.3f}" for v in row["final_reward"].values()),
                      f"{row['final_mean_reward']:+.3f}", f"{row['initial_mean_reward']:+.3f}",
                      f"{row['advantage_var']:.3f}", f"{row['seconds']:.2f}")
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _script_command(args: argparse.Namespace) -> int:
    script = BENCHMARKS_DIR / f"{args.bench}.py"
    if not script.is_file():
        print(f"azr bench {args.bench}: {script} not found; run from a source checkout of azr",
              file=sys.stderr)
        return EXIT_USAGE
    return subprocess.call([sys.executable, str(script), *args.rest], cwd=BENCHMARKS_DIR.parent)


def add_bench_parser(sub: Any) -> None:
    """Add `bench` (with its own subcommands) to the `azr` subparsers."""
    p = sub.add_parser("bench", help="benchmarks: estimators (synthetic bandit), executor, env, rollout")
    bench = p.add_subparsers(dest="bench", required=True)
    e = bench.add_parser("estimators", help="every registered advantage estimator on one bandit")
    e.add_argument("--steps", type=int, default=100)
    e.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    e.add_argument("--batch", type=int, default=8, help="samples per group per step")
    e.add_argument("--lr", type=float, default=0.1, help="step size on the logits")
    e.add_argument("--estimators", action="append", metavar="NAMES",
                   help="comma list (default: all registered)")
    e.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                   help="import a module or .py file first (registers your estimator)")
    e.add_argument("--out", metavar="DIR", help="default runs/bench-estimators-<time>/")
    e.add_argument("--record", action="store_true",
                   help="also append a line to benchmarks/results/estimators.jsonl")
    e.set_defaults(handler=_estimators_command)
    for name in SCRIPTS:
        # "+" as prefix: every "--option" after the name belongs to the script, not to azr.
        s = bench.add_parser(name, help=f"run benchmarks/{name}.py (extra arguments passed on)",
                             prefix_chars="+", add_help=False)
        s.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the script")
        s.set_defaults(handler=_script_command)
