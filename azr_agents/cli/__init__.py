"""The `azr` command.

Subcommands import their heavy dependencies (torch, transformers) only when they run, so that
`azr exec` starts in a blink on a machine with just azr_env installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

EXIT_USAGE = 2

DEMO_JOBS = [
    ("the zero triplet", "def f(a):\n    return a", "'Hello world'"),
    ("a set, compared as a value", "def f(xs):\n    return set(xs)", "[3, 1, 2, 1]"),
    ("an import of an allowed module",
     "from collections import Counter\ndef f(s):\n    return Counter(s).most_common(2)", "'abracadabra'"),
    ("an exception", "def f(a):\n    return 1 // a", "0"),
    ("a busy loop (time limit)", "def f(a):\n    while True:\n        a += 1", "0"),
    ("a memory bomb", "def f(a):\n    return [0] * (10 ** 10)", "0"),
    ("a fork", "import os\ndef f(a):\n    return os.fork()", "0"),
    ("a file write", "def f(a):\n    open('/tmp/azr-demo', 'w').write(a)", "'x'"),
    ("an output over the cap", "def f(a):\n    return 'x' * 5000", "0"),
]


def _exec_command(args: argparse.Namespace) -> int:
    from azr_env.errors import AZRConfigError
    from azr_env.executor import Executor, SandboxUnavailable

    try:
        executor = Executor(timeout_s=args.timeout, memory_mb=args.memory_mb,
                            unsafe_allow_unsandboxed=args.unsafe_no_sandbox)
        with executor:
            if args.report:
                print(json.dumps(executor.sandbox_report(), indent=2))
                return 0
            if args.demo:
                return _demo(executor)
            program, call_args = _read_job(args)
            result = executor.run(program, call_args)
            print(json.dumps(result.to_dict(), indent=2))
            return 0 if result.ok else 1
    except (AZRConfigError, SandboxUnavailable, OSError, UnicodeDecodeError) as exc:
        print(f"azr exec: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _read_job(args: argparse.Namespace) -> tuple[str, str]:
    if args.program is None:
        raise OSError("give a PROGRAM_FILE (or - for stdin) and ARGS, e.g. azr exec prog.py \"'abc', 3\"")
    source = sys.stdin.read() if args.program == "-" else Path(args.program).read_text()
    if args.args is None:
        raise OSError("missing ARGS: the call's arguments as Python source, e.g. \"[1, 2], 3\"")
    return source, args.args


def _demo(executor: object) -> int:
    from azr_env.executor import Executor

    assert isinstance(executor, Executor)
    results = executor.run_batch([(program, call) for _, program, call in DEMO_JOBS])
    print(f"sandbox layers: {json.dumps(executor.layers)}\n")
    print(f"{'job':<32} {'status':<10} {'ms':>7}  value / error")
    for (title, _, _), result in zip(DEMO_JOBS, results, strict=True):
        shown = result.value if result.ok else f"{result.reason}: {result.error}"
        print(f"{title:<32} {result.status:<10} {result.duration_s * 1e3:7.1f}  {shown}")
    return 0


def _train_command(args: argparse.Namespace) -> int:
    from azr_agents.config import from_yaml, load_config, validate
    from azr_agents.errors import AZRConfigError

    overrides = list(args.overrides)
    try:
        if args.imports:
            from azr_agents.cli.bench import import_plugin

            for spec in args.imports:
                import_plugin(spec)  # e.g. registers a user's estimator before the config names it
        if args.resume:
            run_dir = Path(args.resume)
            saved = run_dir / "config.yaml"
            if not saved.exists():
                raise AZRConfigError(f"--resume {run_dir}: no config.yaml there (not a run folder)")
            config = from_yaml(saved.read_text())
            if overrides:
                from omegaconf import OmegaConf

                merged = OmegaConf.merge(OmegaConf.structured(config), OmegaConf.from_dotlist(overrides))
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

        run_dir = Path(args.resume or args.run_dir or config.run.run_dir or default_run_dir(config))
        run_training(config, run_dir, resume=bool(args.resume))
    except AZRConfigError as exc:
        print(f"azr train: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("azr train: interrupted; resume with --resume <run dir>", file=sys.stderr)
        return 130
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    from azr_agents.config import DEFAULT_PRESET

    parser = argparse.ArgumentParser(prog="azr", description="Absolute Zero self-play reasoning.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="self-play training (default: a short run on the embedded model)")
    p_train.add_argument("--preset", default=DEFAULT_PRESET,
                         help="config preset name or YAML path (cpu-learn, cpu-smoke, paper-7b, paper-7b-base)")
    p_train.add_argument("--steps", type=int, help="total steps to train (a resumed run counts its earlier steps)")
    p_train.add_argument("--log-samples", type=int, metavar="N",
                         help="samples.jsonl: at most N samples per task-role group per step, 0 = off "
                              "(run.log_samples, default 16)")
    p_train.add_argument("--run-dir", help="where to write the run folder (default runs/<time>-<preset>)")
    p_train.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint")
    p_train.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                         help="import a module or .py file first, e.g. one that registers your "
                              "estimator (then: estimator.name=yours); repeat it on --resume")
    p_train.add_argument("--print-config", action="store_true",
                         help="print the resolved config (preset + overrides) as YAML and exit "
                              "without loading a model")
    p_train.add_argument("overrides", nargs="*", metavar="key.sub=value", help="config overrides")
    p_train.set_defaults(handler=_train_command)
    p_export = sub.add_parser("export", help="write a run's checkpoint as a standard Hugging Face model folder")
    p_export.add_argument("run", metavar="RUN", help="the run folder (of azr train)")
    p_export.add_argument("out", metavar="OUT", help="a new folder for the model")
    p_export.add_argument("--step", type=int, help="the checkpoint's step (default: the latest)")
    p_export.set_defaults(handler=_export_command)
    p_exec = sub.add_parser("exec", help="run one program in the sandbox and print the result as JSON")
    p_exec.add_argument("program", nargs="?", help="file holding a program that defines f (- for stdin)")
    p_exec.add_argument("args", nargs="?", help="the call's arguments as Python source")
    p_exec.add_argument("--timeout", type=float, default=10.0, help="wall-clock limit in seconds")
    p_exec.add_argument("--memory-mb", type=int, default=1024, help="memory limit of the job")
    p_exec.add_argument("--report", action="store_true", help="print which sandbox layers are active")
    p_exec.add_argument("--demo", action="store_true", help="run a few benign and hostile programs")
    p_exec.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="run even where seccomp is unavailable (trusted code only)")
    p_exec.set_defaults(handler=_exec_command)
    __import__("azr_agents.cli.eval", fromlist=["add_parsers"]).add_parsers(sub)  # eval, bench
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
