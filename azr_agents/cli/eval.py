"""`azr eval`: pass@k on CRUXEval-O/-I and HumanEval, scored in the sandbox.

Nothing heavy is imported until the command runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from azr_agents.cli.exit_codes import EXIT_USAGE


def _suites(values: list[str] | None) -> list[str]:
    """`--suite a --suite b` and `--suite a,b` both work."""
    return [s.strip() for v in values or ["cruxeval-o"] for s in v.split(",") if s.strip()]


def _eval_command(args: argparse.Namespace) -> int:
    from azr_agents.errors import AZRConfigError
    from azr_agents.evaluation.runner import EvalOptions, run_eval, summary_table

    options = EvalOptions(
        suites=_suites(args.suite), models=list(args.model or [None]),
        predictions=args.predictions, samples=args.samples, temperature=args.temperature,
        top_p=args.top_p, limit=args.limit, out=args.out, max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size, format=args.format, timeout_s=args.timeout,
        workers=args.workers, seed=args.seed, progress=not args.no_progress,
    )
    try:
        rows = run_eval(options)
    except AZRConfigError as exc:
        print(f"azr eval: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from rich.console import Console

    Console(width=None if sys.stdout.isatty() else 160).print(summary_table(rows))
    return 0


def add_parser(sub: Any) -> None:
    """Add `eval` to the `azr` subparsers."""
    p = sub.add_parser("eval", help="pass@k on CRUXEval-O/-I and HumanEval, scored in the sandbox")
    p.add_argument(
        "--suite",
        action="append",
        metavar="NAME",
        help="cruxeval-o, cruxeval-i, humaneval (repeat or comma-separate; default cruxeval-o)",
    )
    p.add_argument("--model", action="append", metavar="PATH",
                   help="model folder, .gguf or hub id (repeatable; default: the embedded model)")
    p.add_argument(
        "--predictions",
        metavar="FILE",
        help='score these generations instead of generating ({"<id>": ["pred", ...]})',
    )
    p.add_argument("--samples", type=int, default=1, help="samples per problem (pass@k for k <= n)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (pass@1)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--limit", type=int, help="only the first N problems of each suite")
    p.add_argument("--out", metavar="FILE",
                   help="results JSON (default runs/eval-<time>/results.json)")
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=8, help="problems generated together")
    p.add_argument("--format", default="r1", help="prompt format (r1, plain)")
    p.add_argument("--timeout", type=float, default=10.0, help="sandbox time limit per check (s)")
    p.add_argument("--workers", type=int, help="sandbox workers (default: one per core)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_eval_command)
