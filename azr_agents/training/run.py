"""`azr train`: a whole run, from config to summary table, with progress and a run folder.

The run folder holds `config.yaml` (resolved), `metrics.jsonl`, `samples.jsonl` (what the model
wrote and earned), `plots/*.png` (redrawn as it goes), `tensorboard/`, `checkpoints/` (each a
model folder, plus optimizer, buffers and RNG states) and `buffers.jsonl` (the latest buffers,
for inspection or sharing).
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from azr_agents.config import AZRConfig, to_yaml


def default_run_dir(config: AZRConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{stamp}-{Path(config.preset).stem}"


def run_training(config: AZRConfig, run_dir: Path, resume: bool = False) -> dict[str, Any]:
    """Train for `config.run.steps` steps (counting a resumed run's earlier steps).

    Under `accelerate launch` with N processes every process plays B / N of each group's batch
    with its own seed, and all share one set of buffers (every process's new tasks are gathered
    each step); the main process prints, plots, probes and writes the run folder.
    """
    from rich.console import Console
    from tqdm import tqdm

    from azr_agents.policies import load_policy
    from azr_agents.run_folder import latest_checkpoint
    from azr_agents.training.distributed import DataParallel
    from azr_agents.training.session import SelfPlaySession, load_buffers
    from azr_agents.training.trainer import Trainer

    parallel = DataParallel()
    console = Console(stderr=True, quiet=not parallel.is_main)
    run_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]azr train[/bold] -> {run_dir}"
                  + (f" ({parallel.world} processes)" if parallel.world > 1 else ""))
    console.print(to_yaml(config), highlight=False)

    started = time.perf_counter()
    with console.status("loading the policy (the embedded GGUF model takes ~20 s to de-quantise)"):
        policy = load_policy(config.policy.model, config.policy.backend,
                             **_policy_options(config, parallel))
    console.print(f"policy loaded in {time.perf_counter() - started:.0f} s")
    if config.optim.sharding == "fsdp" and parallel.world > 1:
        from azr_agents.policies.sharding import shard_policy

        shard_policy(policy, parallel)
        console.print(f"trainable model sharded over {parallel.world} processes (FSDP2)")
    elif config.optim.sharding == "fsdp":
        console.print("optim.sharding=fsdp with one process: nothing to shard, full model kept")

    checkpoint = latest_checkpoint(run_dir / "checkpoints") if resume else None
    if resume and checkpoint is None:
        console.print(f"no checkpoint in {run_dir} yet: starting from step 0")
    buffers = (
        load_buffers(_buffers_file(checkpoint, parallel.rank), config.selfplay)
        if checkpoint
        else None
    )
    seed = config.run.seed + 7919 * parallel.rank  # a resumed run restores its random states
    with SelfPlaySession(
        config.selfplay, seed=seed, buffers=buffers, world=parallel.world
    ) as session:
        trainer = Trainer(config, policy, session, run_dir, log=console.print, parallel=parallel)
        trainer.write_config()
        if checkpoint is not None:
            console.print(f"resumed from {checkpoint} (step {trainer.resume(checkpoint)})")
        target = session.seeding_target()
        if trainer.step_index == 0 and target:
            _seed(trainer, session, target, config, console)
        summary: dict[str, Any] = {}
        bar = tqdm(total=config.run.steps, initial=trainer.step_index, desc="self-play",
                   unit="step", file=sys.stderr, dynamic_ncols=True, disable=not parallel.is_main)
        with bar:
            while trainer.step_index < config.run.steps:
                metrics = trainer.step()
                summary = metrics
                bar.update(1)
                bar.set_postfix_str(_postfix(metrics))
                step = trainer.step_index
                if (
                    parallel.is_main
                    and config.run.probe_every
                    and step % config.run.probe_every == 0
                ):
                    probe = session.probe(trainer.complete_greedy, config.run.probe_size)
                    if probe:
                        trainer.log_metrics({"probe": probe})
                if step % config.run.checkpoint_every == 0 or step == config.run.steps:
                    trainer.save()
                    if parallel.is_main:
                        session.save_buffers(run_dir / "buffers.jsonl")
                if parallel.is_main and step % config.run.plot_every == 0:
                    trainer.plot()
        if parallel.is_main:
            trainer.plot()
        if trainer.metrics is not None:
            trainer.metrics.close()
    if parallel.is_main:
        _print_summary(console, run_dir, summary)
    return summary


def _buffers_file(checkpoint: Path, rank: int) -> Path:
    from azr_agents.training.checkpoint import BUFFERS, rank_file

    own = rank_file(checkpoint, BUFFERS, rank)
    return own if own.exists() else checkpoint / BUFFERS


def _policy_options(config: AZRConfig, parallel: Any) -> dict[str, Any]:
    from dataclasses import asdict

    options = asdict(config.policy)
    options.pop("model")
    options.pop("backend")
    if parallel.world > 1 and options.get("device") == "auto" and parallel.device.type == "cuda":
        options["device"] = str(parallel.device)  # one GPU per process
    return options


def _seed(trainer: Any, session: Any, target: int, config: AZRConfig, console: Any) -> None:
    """Propose without updates until every buffer holds `target` valid tasks (or give up)."""
    from tqdm import tqdm

    rounds = config.selfplay.max_seeding_rounds
    with tqdm(total=rounds, desc="seeding buffers", unit="round", file=sys.stderr) as bar:
        for _ in range(rounds):
            if not session.needs_seeding(target):
                break
            session.seed_round(trainer.complete, trainer.buffer_sync)
            bar.update(1)
            bar.set_postfix_str(" ".join(f"{k}={v}" for k, v in session.buffer_sizes().items()))
    console.print(f"buffers after seeding: {session.buffer_sizes()} (target {target} each)")


def _postfix(metrics: dict[str, Any]) -> str:
    groups = metrics.get("groups", {})
    rewards = " ".join(f"{name.split('/')[0][:3]}/{name.split('/')[1][:4]}={g['reward']:+.2f}"
                       for name, g in groups.items())
    return f"{metrics['time_s']['step']:.0f}s {rewards}"


def _print_summary(console: Any, run_dir: Path, metrics: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"last step of {run_dir}")
    for column in ("group", "reward", "well-formed", "valid", "solve rate", "tokens"):
        table.add_column(column, justify="right" if column != "group" else "left")
    for name, g in metrics.get("groups", {}).items():
        table.add_row(name, f"{g['reward']:+.3f}", _pct(g.get("format_ok")), _pct(g.get("valid")),
                      _pct(g.get("solve_rate", g.get("accuracy"))), f"{g['response_tokens']:.0f}")
    console.print(table)
    if metrics:
        times = metrics["time_s"]
        console.print(
            f"step time {times['step']:.1f} s (generation {times.get('generation', 0):.1f}, "
            f"env {times.get('env', 0):.1f}, update {times.get('update', 0):.1f}); "
            f"{metrics['tokens_per_s']:.0f} tok/s; peak RSS {metrics['peak_rss_gib']:.2f} GiB"
        )
    console.print(f"plots: {run_dir / 'plots'}   metrics: {run_dir / 'metrics.jsonl'}   "
                  f"checkpoints: {run_dir / 'checkpoints'}")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"
