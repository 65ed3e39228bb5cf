"""The self-play trainer: propose -> validate -> learnability -> solve -> rewards -> advantages ->
PPO-clip update, one step at a time, with checkpoints a crash cannot corrupt.

`Trainer.step` reads top to bottom as the method does. Everything the model writes is scored by
the environment (and its sandbox); the trainer never runs model text.
"""

from __future__ import annotations

import random
import resource
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from azr_agents import estimators
from azr_agents.config import AZRConfig, to_yaml
from azr_agents.policies import Policy
from azr_agents.policies.sharding import full_states, full_tensor, is_sharded, load_full_states
from azr_agents.run_folder import STATE
from azr_agents.training.checkpoint import (
    BUFFERS,
    load_checkpoint,
    rank_file,
    read_full_states,
    read_state,
    save_checkpoint,
    write_atomic,
)
from azr_agents.training.distributed import DataParallel
from azr_agents.training.loss import LossStats, ppo_clip_loss, rows_with_gradient
from azr_agents.training.metrics import MetricsLogger, plot_run
from azr_agents.training.old_logprobs import Mismatch, should_recompute
from azr_agents.training.rollout import Sample, pad, response_mask
from azr_agents.training.samples import SamplesLogger, markdown_tables
from azr_agents.training.session import SelfPlaySession
from azr_agents.training.shared_step import BufferSync, global_batch


@dataclass
class StepTimer:
    """Wall time per phase; the solver's generation inside the env counts as generation."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, phase: str, started: float) -> float:
        now = time.perf_counter()
        self.seconds[phase] += now - started
        return now


class Trainer:
    """Owns the policy, the optimizer, the self-play session and the run folder."""

    def __init__(self, config: AZRConfig, policy: Policy, session: SelfPlaySession, run_dir: Path,
                 log: Callable[[str], None] = print, parallel: DataParallel | None = None) -> None:
        self.config = config
        self.parallel = parallel
        self.policy = policy
        self.session = session
        self.run_dir = run_dir
        self.log = log
        opt = config.optim
        self.optimizer = torch.optim.AdamW(
            [p for p in policy.model.parameters() if p.requires_grad],
            lr=opt.lr, betas=(opt.betas[0], opt.betas[1]), weight_decay=opt.weight_decay,
        )
        self.estimator = estimators.get(config.estimator.name, **config.estimator.options)
        self.step_index = 0
        self.is_main = parallel is None or parallel.is_main
        self.metrics = MetricsLogger(run_dir) if self.is_main else None
        cap = config.run.log_samples
        self.samples_log = SamplesLogger(run_dir, cap) if self.is_main and cap else None
        self.tokens_generated = 0
        self.generation_s = 0.0
        session.solver = self._solve  # learnability estimates sample from the current policy
        assert session.buffers is not None
        self.buffer_sync = BufferSync(session.buffers, parallel)
        """Several processes: every one ends each proposal phase with the same buffers."""
        limit = config.generation.max_prompt_tokens
        if limit is not None:
            session.cap_prompts(lambda prompt: len(policy.encode(prompt)) <= limit)

    # -- generation --------------------------------------------------------------------------
    def _generate(self, prompts: list[str], n: int = 1) -> list[Any]:
        gen = self.config.generation
        started = time.perf_counter()
        outputs = self.policy.generate(prompts, max_new_tokens=gen.max_new_tokens,
                                       temperature=gen.temperature, top_p=gen.top_p, n=n)
        self.generation_s += time.perf_counter() - started
        self.tokens_generated += sum(len(o.token_ids) for o in outputs)
        return outputs

    def complete(self, prompts: list[str]) -> list[str]:
        """Sampled completions for prompts outside the trained batch (seeding)."""
        return [o.text for o in self._generate(prompts)]

    def complete_greedy(self, prompts: list[str]) -> list[str]:
        """Greedy completions (the probe set: the same tasks scored the same way every time)."""
        gen = self.config.generation
        outputs = self.policy.generate(prompts, max_new_tokens=gen.max_new_tokens, temperature=0.0)
        return [o.text for o in outputs]

    def _solve(self, prompts: list[str]) -> list[str]:
        """The env's solver: completions for a batch of solve prompts, at training temperature."""
        return [o.text for o in self._generate(prompts)]

    # -- one step ----------------------------------------------------------------------------
    def step(self) -> dict[str, Any]:
        timer = StepTimer()
        self.generation_s = 0.0
        self.tokens_generated = 0
        started = time.perf_counter()
        samples: list[Sample] = []
        self.session.step = self.step_index + 1  # the step new tasks are recorded at

        # 1-3. Propose for every task type; the env validates each proposal in the sandbox, asks
        #      the solver n times for its learnability, and adds valid ones to the buffers.
        #      With several processes, each scores its share; then all take every new task.
        #      (`selfplay.solve_tasks=previous_step`: solve tasks are drawn first, from the
        #      buffers as the last step left them, as the reference builds its solver batch.)
        solve_pose: Callable[[str], list[str]] = self.session.solve_prompts
        if self.config.selfplay.solve_tasks == "previous_step":
            posed = {t: solve_pose(t) for t in self.config.selfplay.task_types}
            solve_pose = posed.__getitem__
        self.buffer_sync.mark()
        samples += self._play("propose", self.session.propose_prompts)
        self.buffer_sync.sync()

        # 4. Solve tasks from the buffers, most recent first.
        samples += self._play("solve", solve_pose)
        rollout_s = time.perf_counter() - started
        timer.seconds["generation"] = self.generation_s
        timer.seconds["env"] = rollout_s - self.generation_s

        # 5. Rewards -> advantages (one baseline per task-role group for TRR++) -> PPO-clip.
        now = time.perf_counter()
        update = self._update(samples, timer)
        timer.add("update", now)

        self.step_index += 1
        everyone = self._everyone(samples)
        metrics = self._metrics(everyone, update, timer, time.perf_counter() - started)
        self.log_metrics(metrics)
        self._log_samples(samples)
        return metrics

    def _everyone(self, samples: list[Sample]) -> list[Sample]:
        """The whole step's samples for its metrics (every process's, without their long texts
        and log-probs); just ours with one process."""
        if self.parallel is None or self.parallel.world == 1:
            return samples
        light = [Sample(prompt="", text="", token_ids=s.token_ids, logprobs=[], reward=s.reward,
                        task_type=s.task_type, role=s.role, prompt_id=s.prompt_id, info=s.info)
                 for s in samples]
        return [s for part in self.parallel.gather(light) for s in part]

    def log_metrics(self, metrics: dict[str, Any]) -> None:
        """Append to metrics.jsonl (the main process writes for the run)."""
        if self.metrics is not None:
            self.metrics.log(self.step_index, metrics)

    def _log_samples(self, samples: list[Sample]) -> None:
        """samples.jsonl, and a few samples per group as TensorBoard text tables."""
        if self.samples_log is None:
            return
        records = self.samples_log.log(self.step_index, samples)
        if self.metrics is not None:
            for group, table in markdown_tables(records).items():
                self.metrics.log_text(f"samples/{group}", table, self.step_index)

    def _play(self, role: str, pose: Callable[[str], list[str]]) -> list[Sample]:
        """One role for every task type: all prompts generated in one batch (a wider batch decodes
        faster), then each type's completions scored by its env. The env poses B x G prompts in
        blocks of G identical ones; each block's prompt is sampled G times."""
        types = self.config.selfplay.task_types
        group = self.config.selfplay.samples_per_prompt
        prompts = {task_type: pose(task_type) for task_type in types}
        outputs = iter(self._generate([p for t in types for p in prompts[t][::group]], n=group))
        samples: list[Sample] = []
        for task_type in types:
            mine = [next(outputs) for _ in prompts[task_type]]
            scored = self.session.score(task_type, role, [o.text for o in mine])
            samples += self._samples(task_type, role, prompts[task_type], mine, scored, group)
        return samples

    def _samples(self, task_type: str, role: str, prompts: list[str], outputs: list[Any],
                 scored: list[tuple[float, dict[str, Any]]], group: int) -> list[Sample]:
        return [
            Sample(prompt=p, text=o.text, token_ids=list(o.token_ids), logprobs=list(o.logprobs),
                   reward=float(reward), task_type=task_type, role=role,
                   prompt_id=f"{self.step_index + 1}:{task_type}:{role}:{i // group}", info=info)
            for i, (p, o, (reward, info)) in enumerate(zip(prompts, outputs, scored, strict=True))
        ]

    def _update(self, samples: list[Sample], timer: StepTimer) -> dict[str, float]:
        """Advantages for all samples at once, then PPO epochs; each epoch is
        `optim.mini_batches_per_step` optimizer steps, each over micro-batches of its mini-batch.
        Where the time goes is added to `timer` as `update_<phase>` seconds."""
        # An `infra` outcome is the sandbox's failure, not the model's: it is not trained on.
        trainable = [s for s in samples if s.token_ids and not s.info.get("infra")]
        world = self.parallel.world if self.parallel is not None else 1
        opt = self.config.optim
        # The estimator sees the whole step's batch (every process's samples): its baselines are
        # the batch's, as with one process; we keep our rows (`azr_agents.training.shared_step`).
        whole = global_batch(trainable, self.parallel, opt.mini_batches_per_step)
        if not whole.prompt_ids:
            return {"skipped": 1.0}
        mask = response_mask(trainable)
        inp = estimators.AdvantageInput(
            rewards=whole.rewards, mask=whole.mask, groups=whole.groups,
            prompt_ids=whole.prompt_ids,
        )
        every = estimators.check_advantages(self.config.estimator.name, self.estimator(inp), inp)
        advantages = every[whole.offset : whole.offset + len(trainable), : mask.shape[1]]
        # Samples whose gradient would be exactly zero are not run (`optim.skip_zero_advantage`).
        active = (
            rows_with_gradient(every, whole.mask, opt.entropy_coef)
            if opt.skip_zero_advantage
            else torch.ones(len(whole.prompt_ids), dtype=torch.bool)
        ).tolist()
        ours = active[whole.offset : whole.offset + len(trainable)]
        busiest = whole.busiest(active, opt.mini_batches_per_step)
        per_sample = (advantages * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        for sample, value in zip(trainable, per_sample.tolist(), strict=True):
            sample.advantage = float(value)
        old_logprobs = pad([s.logprobs for s in trainable], mask.shape[1])
        stats = LossStats()
        grad_norm = 0.0
        params = [p for p in self.policy.model.parameters() if p.requires_grad]
        sharded = is_sharded(self.policy.model)
        # Mini-batches are contiguous slices of the self-play order (every process splits into the
        # same number, even empty ones, so gradient averaging stays in lockstep). Within one, the
        # order of micro-batches does not change its update: sorting by prompt keeps shared
        # instructions together (a shared prefix prefilled once) and, within one prompt, by
        # completion length, so that a micro-batch's rows are padded to similar lengths.
        mini_batches = [
            sorted((int(i) for i in part if ours[int(i)]),
                   key=lambda i: (trainable[i].prompt, len(trainable[i].token_ids), i))
            for part in np.array_split(np.arange(len(trainable)), opt.mini_batches_per_step)
        ]
        seconds = timer.seconds
        fed = {"real_tokens": 0.0, "fed_tokens": 0.0}
        mismatch = Mismatch()
        self.policy.model.train()

        def passes(index: int, order: list[int]) -> list[list[int]]:
            """The micro-batches of mini-batch `index`. A sharded model runs collectives in every
            forward: then all processes run as many as the busiest one, the extra ones empty."""
            rows = max(len(order), busiest[index] if sharded else 0)
            size = opt.micro_batch_size
            return [order[start : start + size] for start in range(0, rows, size)]

        recompute = should_recompute(opt.old_logprobs, self.policy)
        if recompute:
            # pi_old from the training model itself, before any optimizer step of this update.
            now = time.perf_counter()
            sampled = old_logprobs
            old_logprobs = torch.zeros_like(sampled)
            with torch.no_grad():
                for index, order in enumerate(mini_batches):
                    for rows in passes(index, order):
                        if not rows:
                            self._no_op_pass(backward=False)
                            continue
                        values = self._logprobs([trainable[i] for i in rows], fed).logprobs
                        old_logprobs[rows, : values.shape[1]] = values.float()
            mismatch.add(
                sampled, old_logprobs, mask * torch.tensor(ours, dtype=mask.dtype)[:, None]
            )
            seconds["update_recompute_old"] = time.perf_counter() - now
        for epoch in range(opt.ppo_epochs):
            for index, order in enumerate(mini_batches):
                self.optimizer.zero_grad(set_to_none=True)
                # normalised by the whole mini-batch's tokens; averaging over processes then
                # gives the gradient one process would compute on the union of their slices
                total_tokens = max(whole.tokens_per_part[index], 1.0) / world
                for rows in passes(index, order):
                    if not rows:
                        self._no_op_pass()
                        continue
                    now = time.perf_counter()
                    recomputed = self._logprobs([trainable[i] for i in rows], fed)
                    width = recomputed.logprobs.shape[1]
                    if not recompute and epoch == 0 and index == 0:  # weights not yet stepped
                        mismatch.add(old_logprobs[rows, :width], recomputed.logprobs,
                                     mask[rows, :width] * recomputed.mask)
                    loss, part = ppo_clip_loss(
                        recomputed.logprobs, old_logprobs[rows, :width], advantages[rows, :width],
                        mask[rows, :width] * recomputed.mask, clip_low=opt.clip_low,
                        clip_high=opt.clip_high, entropies=recomputed.entropies,
                        entropy_coef=opt.entropy_coef, total_tokens=total_tokens,
                    )
                    now = _lap(seconds, "update_forward", now)
                    loss.backward()  # type: ignore[no-untyped-call]
                    _lap(seconds, "update_backward", now)
                    stats.add(part)
                now = time.perf_counter()
                for param in params:  # every sample skipped: AdamW still steps, on zeros
                    if param.grad is None:
                        param.grad = torch.zeros_like(param)
                if self.parallel is not None and not sharded:  # FSDP averages in its backward
                    self.parallel.average_gradients(params)  # every process, even with no samples
                grad_norm = float(
                    full_tensor(torch.nn.utils.clip_grad_norm_(params, opt.grad_clip))
                )
                self.optimizer.step()
                _lap(seconds, "update_optimizer", now)
        self.policy.model.eval()
        now = time.perf_counter()
        self.policy.sync_weights()
        _lap(seconds, "update_sync_weights", now)
        breakdown: dict[str, float] = {}
        if fed["fed_tokens"]:
            # Positions the update's forwards computed that are neither prompt nor completion.
            breakdown["padding_fraction"] = 1.0 - fed["real_tokens"] / fed["fed_tokens"]
        masked = advantages[mask > 0]
        return {**stats.means(), **mismatch.metrics(), **breakdown, "grad_norm": grad_norm,
                "advantage_std": float(masked.std()) if masked.numel() > 1 else 0.0,
                "trained_samples": float(len(whole.prompt_ids)),
                "skipped_samples": float(len(ours) - sum(ours))}

    def _no_op_pass(self, backward: bool = True) -> None:
        """One forward (and backward) that adds nothing to the gradients (lockstep padding)."""
        eos = self.policy.tokenizer.eos_token_id
        probe = self.policy.logprobs(
            ["."],
            [[int(eos)]],
            temperature=self.config.generation.temperature,
            top_p=self.config.generation.top_p,
        )
        if backward:
            (probe.logprobs.sum() * 0.0).backward()  # type: ignore[no-untyped-call]

    def _logprobs(self, batch: list[Sample], fed: dict[str, float]) -> Any:
        """The training model's log-probs of `batch` at the sampling temperature and top-p."""
        gen = self.config.generation
        out = self.policy.logprobs([s.prompt for s in batch], [s.token_ids for s in batch],
                                   temperature=gen.temperature, top_p=gen.top_p)
        for key in fed:
            fed[key] += float(out.extra.get(key, 0.0))
        return out

    def _metrics(self, samples: list[Sample], update: dict[str, float], timer: StepTimer,
                 step_s: float) -> dict[str, Any]:
        groups: dict[str, dict[str, float]] = {}
        by_group: dict[str, list[Sample]] = defaultdict(list)
        for s in samples:
            by_group[f"{s.task_type}/{s.role}"].append(s)
        for name, members in sorted(by_group.items()):
            info_keys = ("format_ok", "valid", "solve_rate", "learnability", "accuracy")
            rewards = [s.reward for s in members]
            # population std: 0 means TRR++ gives this group no gradient this step
            entry = {"reward": _mean(rewards), "reward_std": statistics.pstdev(rewards),
                     "response_tokens": _mean([len(s.token_ids) for s in members])}
            for key in info_keys:
                values = [
                    float(s.info[key])
                    for s in members
                    if isinstance(s.info.get(key), (int, float, bool))
                ]
                if key == "accuracy" and members[0].role == "solve":
                    values = [float(bool(s.info.get(key))) for s in members]  # malformed = wrong
                if values:
                    entry[key] = _mean(values)
            groups[name] = entry
        rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        return {
            "groups": groups, "update": update, "time_s": dict(timer.seconds, step=step_s),
            "tokens_per_s": self.tokens_generated / max(timer.seconds["generation"], 1e-9),
            "peak_rss_gib": rss_gib, "buffers": self.session.buffer_sizes(),
        }

    # -- checkpoints -------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        """Every random state the next step depends on: the global ones, the policy's sampling
        generator, the session's envs; and the estimator's (a moving baseline)."""
        policy_rng = getattr(self.policy, "rng_state", None)
        return {"python_rng": random.getstate(),
                "torch_rng": torch.get_rng_state(),
                "policy_rng": policy_rng() if policy_rng is not None else None,
                "session": self.session.state_dict(),
                "estimator": getattr(self.estimator, "state_dict", dict)()}

    def save(self) -> Path | None:
        """Checkpoint the run (every process calls this; the main process writes it, with the
        buffers and random states of every process). Returns the checkpoint folder on the main
        process."""
        per_rank = [(self._buffers_text(), self._state())]
        if self.parallel is not None:
            per_rank = self.parallel.gather(per_rank[0])
        # a sharded model and optimizer are gathered whole (a collective), so that a checkpoint
        # is the same folder with or without sharding
        weights, optim = full_states(self.policy.model, self.optimizer) \
            if is_sharded(self.policy.model) else (None, None)
        if not self.is_main:
            return None

        def save_extra(folder: Path) -> None:
            for rank, (text, state) in enumerate(per_rank):
                rank_file(folder, BUFFERS, rank).write_text(text)
                if rank:
                    torch.save(state, rank_file(folder, STATE, rank))

        return save_checkpoint(
            self.run_dir / "checkpoints",
            self.step_index,
            self.policy.model,
            self.optimizer,
            per_rank[0][1],
            save_extra,
            keep=self.config.run.keep_checkpoints,
            tokenizer=self.policy.tokenizer,
            weights=weights,
            optimizer_state=optim,
        )

    def _buffers_text(self) -> str:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "buffers.jsonl"
            self.session.save_buffers(path)
            return path.read_text()

    def resume(self, path: Path) -> int:
        """Continue exactly from checkpoint `path` (its buffers went to the session when it was
        made): weights, optimizer, step and every random state; the run folder's logs are cut
        back to the checkpoint's step."""
        if is_sharded(self.policy.model):
            weights, optim = read_full_states(path)
            load_full_states(self.policy.model, self.optimizer, weights, optim)
            state = read_state(path)
        else:
            state = load_checkpoint(path, self.policy.model, self.optimizer)
        rank = self.parallel.rank if self.parallel is not None else 0
        own = rank_file(path, STATE, rank)
        if rank and own.exists():
            state = dict(torch.load(own, weights_only=False), step=state["step"])
        self.policy.sync_weights()
        random.setstate(state["python_rng"])
        torch.set_rng_state(state["torch_rng"])
        set_policy_rng = getattr(self.policy, "set_rng_state", None)
        if state.get("policy_rng") is not None and set_policy_rng is not None:
            set_policy_rng(state["policy_rng"])
        # checkpoints before the envs' states were saved lack it
        if state.get("session") is not None:
            self.session.load_state_dict(state["session"])
        if hasattr(self.estimator, "load_state_dict"):
            self.estimator.load_state_dict(state.get("estimator", {}))  # e.g. a moving baseline
        self.step_index = int(state["step"])
        self.session.step = self.step_index
        if self.metrics is not None:
            self.metrics.truncate_after(self.step_index)
        if self.samples_log is not None:
            self.samples_log.truncate_after(self.step_index)
        return self.step_index

    def write_config(self) -> None:
        if self.is_main:
            write_atomic(self.run_dir / "config.yaml", to_yaml(self.config))

    def plot(self) -> list[Path]:
        return plot_run(self.run_dir)


def _micro_batches(order: list[int], size: int) -> list[list[int]]:
    return [order[start : start + size] for start in range(0, len(order), size)]


def _lap(seconds: dict[str, float], phase: str, started: float) -> float:
    now = time.perf_counter()
    seconds[phase] += now - started
    return now


def _mean(values: list[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0

