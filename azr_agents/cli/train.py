"""`azr train`: resolve the config (preset, overrides, `--import` plugins), then run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from azr_agents.cli.exit_codes import EXIT_INTERRUPTED, EXIT_USAGE


def _train_command(args: argparse.Namespace) -> int:
    from azr_agents.cli.plugins import import_plugin
    from azr_agents.config import from_yaml, load_config, validate
    from azr_agents.errors import AZRConfigError

    overrides = list(args.overrides)
    try:
        for spec in args.imports or []:
            import_plugin(spec)  # e.g. registers a user's estimator before the config names it
        if args.resume:
            run_dir = Path(args.resume)
            saved = run_dir / "config.yaml"
            if not saved.exists():
                raise AZRConfigError(f"--resume {run_dir}: no config.yaml there (not a run folder)")
            config = from_yaml(saved.read_text())
            if overrides:
                from omegaconf import OmegaConf

                merged = OmegaConf.merge(OmegaConf.structured(config),
                                         OmegaConf.from_dotlist(overrides))
                config = OmegaConf.to_object(merged)  # type: ignore[assignment]
        else:
            config = load_config(args.preset, overrides)
        if args.steps is not None:
            config.run.steps = args.steps
        if args.log_samples is not None:
            config.run.log_samples = args.log_samples
        validate(config)
        if args.print_config:
            from azr_agents.config import to_yaml

            print(to_yaml(config), end="")  # the resolved values; no model is loaded
            return 0
        from azr_agents.training.run import default_run_dir, run_training

        run_dir = Path(args.resume or args.run_dir or config.run.run_dir
                       or default_run_dir(config))
        run_training(config, run_dir, resume=bool(args.resume))
    except AZRConfigError as exc:
        print(f"azr train: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("azr train: interrupted; resume with --resume <run dir>", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def add_parser(sub: Any) -> None:
    """Add `train` to the `azr` subparsers."""
    from azr_agents.config import DEFAULT_PRESET

    p = sub.add_parser("train",
                       help="self-play training (default: a short run on the embedded model)")
    p.add_argument("--preset", default=DEFAULT_PRESET,
                   help="config preset name or YAML path "
                        "(cpu-learn, cpu-smoke, paper-7b, paper-7b-base)")
    p.add_argument("--steps", type=int,
                   help="total steps to train (a resumed run counts its earlier steps)")
    p.add_argument("--log-samples", type=int, metavar="N",
                   help="samples.jsonl: at most N samples per task-role group per step, 0 = off "
                        "(run.log_samples, default 16)")
    p.add_argument("--run-dir",
                   help="where to write the run folder (default runs/<time>-<preset>)")
    p.add_argument("--resume", metavar="DIR",
                   help="continue the run in DIR from its last checkpoint")
    p.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                   help="import a module or .py file first, e.g. one that registers your "
                        "estimator, task type, policy backend or prompt format (then: "
                        "estimator.name=yours); repeat it on --resume")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved config (preset + overrides) as YAML and exit "
                        "without loading a model")
    p.add_argument("overrides", nargs="*", metavar="key.sub=value", help="config overrides")
    p.set_defaults(handler=_train_command)
