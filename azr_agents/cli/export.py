"""`azr export`: a run's checkpoint as a standard Hugging Face model folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from azr_agents.cli.exit_codes import EXIT_USAGE


def _export_command(args: argparse.Namespace) -> int:
    from azr_agents.errors import AZRConfigError
    from azr_agents.training.export import export_checkpoint

    try:
        out = export_checkpoint(Path(args.run), Path(args.out), step=args.step)
    except AZRConfigError as exc:
        print(f"azr export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{out}: load it with AutoModelForCausalLM.from_pretrained({str(out)!r}) "
          f"(and AutoTokenizer), vLLM, or azr eval --model {out}")
    return 0


def add_parser(sub: Any) -> None:
    """Add `export` to the `azr` subparsers."""
    p = sub.add_parser("export",
                       help="write a run's checkpoint as a standard Hugging Face model folder")
    p.add_argument("run", metavar="RUN", help="the run folder (of azr train)")
    p.add_argument("out", metavar="OUT", help="a new folder for the model")
    p.add_argument("--step", type=int, help="the checkpoint's step (default: the latest)")
    p.set_defaults(handler=_export_command)
