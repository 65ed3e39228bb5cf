"""The agent's view of the environment: six native vector envs sharing buffers and one sandbox.

Written against azr_env's public API only (`gymnasium.make_vec` with the registered ids, the
`solver`, `executor` and `buffers` arguments, the documented `info` keys), the way a
researcher's own agent would use it. One vector env per (task type, role) group, each with
`num_envs = batch_size x samples_per_prompt`; they share one `TaskBuffers` (so valid proposals
become solve tasks) and one `Executor`. Learnability estimates call `self.solver`, which the
trainer points at its policy. Seeding uses separate propose envs without a solver: it only needs
validity.

With `samples_per_prompt = G > 1` each group env has B x G sub-envs in blocks of G sharing one
prompt. `step` is the global self-play step every env records new tasks at (through the shared
buffers), so "recent" solve tasks are this run's latest, across seeding and resumes.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from azr_agents.config import SelfPlayConfig
from azr_agents.errors import AZRConfigError
from azr_agents.training.shared_step import BufferSync
from azr_env import env_id
from azr_env.buffers import TaskBuffers
from azr_env.config import EnvConfig
from azr_env.executor import Executor
from azr_env.task import Task

Completer = Callable[[list[str]], list[str]]
"""Prompts -> one completion each: how the session asks the policy (through the trainer)."""


def _unbatch(batched: dict[str, Any], index: int) -> dict[str, Any]:
    """One sub-env's info out of Gymnasium's dict-of-arrays batching.

    Gymnasium types a key's array by the first sub-env that reports it, so a later sub-env's
    None in a float array comes back as NaN (an invalid proposal's `solve_rate` beside a valid
    one's): NaN is read back as the None the env sent, so that no metric averages it and
    samples.jsonl stays strict JSON.
    """
    out: dict[str, Any] = {}
    for key, value in batched.items():
        if key.startswith("_"):
            continue
        if isinstance(value, dict):
            out[key] = _unbatch(value, index)
        else:
            item = value[index]
            item = item.item() if isinstance(item, np.generic) else item
            out[key] = None if isinstance(item, float) and math.isnan(item) else item
    return out


class SelfPlaySession:
    """Six vector envs (or fewer: `selfplay.task_types`) over one buffer set and one sandbox."""

    def __init__(
        self,
        config: SelfPlayConfig,
        seed: int = 0,
        buffers: TaskBuffers | None = None,
        world: int = 1,
    ) -> None:
        """`buffers`: resume from these (e.g. a checkpoint's); default: fresh, from the zero tasks.
        `seed` seeds the envs' prompt sampling (a resumed run passes its seed plus its step).
        `world`: the number of processes sharing the step; this one poses `batch_size / world`
        prompts per group (the trainer keeps the processes' buffers identical,
        `azr_agents.training.shared_step`)."""
        if world < 1 or config.batch_size % world:
            raise AZRConfigError(
                f"selfplay.batch_size ({config.batch_size}) must be a multiple of the number of "
                f"processes ({world}): each plays an equal share of the batch"
            )
        self.config = config
        self.batch_size = config.batch_size // world
        """Prompts this process poses per group and step (B / number of processes)."""
        self.seed = seed
        self.solver: Completer | None = None
        self.env_config: EnvConfig = config.env
        # One executor for every env (they would otherwise each start a pool): it carries the
        # env's executor options.
        self.executor = Executor(config.env.executor)
        self.executor.start()
        self.buffers: TaskBuffers | None = buffers
        self.envs: dict[tuple[str, str], Any] = {}
        self.seed_envs: dict[str, Any] = {}
        group = config.samples_per_prompt
        for task_type in config.task_types:
            for role in ("propose", "solve"):
                self.envs[(task_type, role)] = self._make(task_type, role, self._solve, group)
            self.seed_envs[task_type] = self._make(task_type, "propose", None, 1)
        self.step = 0  # seeding; the trainer sets each training step
        self._reset_all(seed)

    def _make(self, task_type: str, role: str, solver: Callable[[list[str]], list[str]] | None,
              group: int) -> Any:
        env: Any = gymnasium.make_vec(
            env_id(task_type, role), num_envs=self.batch_size * group,
            vectorization_mode="vector_entry_point", config=self.env_config,
            solver=solver, executor=self.executor, buffers=self.buffers, samples_per_prompt=group,
        )
        if self.buffers is None:
            self.buffers = env.unwrapped.buffers  # the first env made them; the others share them
        return env

    def _all_envs(self) -> dict[str, Any]:
        named = {f"{t}/{r}": env for (t, r), env in self.envs.items()}
        return named | {f"seed/{t}": env for t, env in self.seed_envs.items()}

    def _reset_all(self, seed: int) -> None:
        """Seed every sub-env's RNG stream once; later resets continue those streams."""
        stride = self.batch_size * self.config.samples_per_prompt
        for offset, env in enumerate(self._all_envs().values()):
            env.reset(seed=seed * 100_003 + offset * stride)

    @property
    def step(self) -> int:
        """The global self-play step new tasks are recorded at (0 while seeding)."""
        assert self.buffers is not None
        return int(self.buffers.step or 0)

    @step.setter
    def step(self, value: int) -> None:
        assert self.buffers is not None
        self.buffers.step = int(value)

    def state_dict(self) -> dict[str, Any]:
        """Every env's generators and counters, for an exact resume (buffers are saved apart)."""
        return {
            "step": self.step,
            "envs": {name: env.unwrapped.state_dict() for name, env in self._all_envs().items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        envs = self._all_envs()
        if set(state["envs"]) != set(envs):
            raise AZRConfigError(
                f"the checkpoint holds the envs {sorted(state['envs'])}, this run has "
                f"{sorted(envs)}: resume with the run's selfplay.task_types"
            )
        for name, env in envs.items():
            env.unwrapped.load_state_dict(state["envs"][name])
        self.step = int(state["step"])

    def cap_prompts(self, fits: Callable[[str], bool] | None) -> None:
        """Pose only prompts for which `fits(prompt)` holds (the policy's token cap), in every
        env: proposers' references are drawn again, over-long solve tasks swapped
        (`azr_env.prompt_cap`); None lifts the cap."""
        for env in self._all_envs().values():
            env.unwrapped.core.prompt_fits = fits

    def _solve(self, prompts: list[str]) -> list[str]:
        if self.solver is None:
            raise RuntimeError("SelfPlaySession.solver is not set")
        return self.solver(list(prompts))

    # -- what the trainer calls -----------------------------------------------------------------
    def propose_prompts(self, task_type: str) -> list[str]:
        return self._pose(self.envs[(task_type, "propose")])

    def solve_prompts(self, task_type: str) -> list[str]:
        """Posed now, after this step's proposals joined the buffers: solve tasks come from the
        most recent additions first (the vector env's same-step autoreset poses one step early)."""
        return self._pose(self.envs[(task_type, "solve")])

    @staticmethod
    def _pose(env: Any) -> list[str]:
        obs, _ = env.reset()  # no seed: each sub-env's RNG stream goes on
        return [str(p) for p in obs["prompt"]]

    def score(
        self, task_type: str, role: str, completions: Sequence[str]
    ) -> list[tuple[float, dict[str, Any]]]:
        """Step the group's vector env with the completions (the prompts it poses next are not
        used: `solve_prompts`/`propose_prompts` pose afresh after this step's proposals)."""
        return self._step(self.envs[(task_type, role)], completions)

    @staticmethod
    def _step(env: Any, completions: Sequence[str]) -> list[tuple[float, dict[str, Any]]]:
        _, rewards, _, _, infos = env.step(list(completions))
        final = infos.get("final_info", infos)
        scored = []
        for i, reward in enumerate(rewards):
            info = _unbatch(final, i)
            if info.get("role") == "propose":
                info["valid"] = bool(info.get("format_ok"))
            scored.append((float(reward), info))
        return scored

    # -- seeding --------------------------------------------------------------------------------
    def seeding_target(self) -> int:
        """Valid tasks per buffer before training: the whole batch's B x seed factor."""
        return self.config.batch_size * self.config.seed_factor

    def needs_seeding(self, target: int) -> bool:
        assert self.buffers is not None
        return any(len(self.buffers[t]) < target for t in self.config.task_types)

    def seed_round(self, complete: Completer, sync: BufferSync | None = None) -> None:
        """One proposal per sub-env of every type whose buffer is short (one generation batch,
        by `complete`: the trainer's sampling); no update. With several processes every one
        calls this, and `sync` (the trainer's) leaves them all with the same buffers.

        With `buffers.seed_triplets="shared"` deduction and abduction share one triplet set
        (`_share_triplets`), and induction waits until it is full, as in the reference."""
        assert self.buffers is not None
        self.buffers.seeding = True  # buffers.dedup="seeding" refuses repeats only now
        try:
            if sync is not None:
                sync.mark()
            target = self.seeding_target()
            short = [t for t in self.config.task_types if len(self.buffers[t]) < target]
            shared = self._shared_triplet_types()
            before = {t: self.buffers[t].tasks for t in shared}
            if any(t in shared for t in short):
                short = [t for t in short if t in shared]
            prompts = {t: self._pose(self.seed_envs[t]) for t in short}
            completions = iter(complete([p for t in short for p in prompts[t]]))
            for task_type in short:
                mine = [next(completions) for _ in prompts[task_type]]
                self._step(self.seed_envs[task_type], mine)
            if sync is not None:
                sync.sync()
            if any(t in shared for t in short):
                self._share_triplets(before)
        finally:
            self.buffers.seeding = False

    def _shared_triplet_types(self) -> tuple[str, ...]:
        """The types that share one seed set (`buffers.seed_triplets="shared"` with both
        deduction and abduction trained), else none."""
        pair = ("deduction", "abduction")
        if self.env_config.buffers.seed_triplets != "shared" or not all(
            t in self.config.task_types for t in pair
        ):
            return ()
        return pair

    def _share_triplets(self, before: dict[str, tuple[Task, ...]]) -> None:
        """Give deduction and abduction the same seed set: each buffer as it was before the
        round, then every new triplet of either type (in type order), de-duplicated (seeding
        always is). Every process does this after the sync, so copies stay identical."""
        assert self.buffers is not None
        new: list[Task] = []
        for task_type, held in before.items():
            seen = {t.key for t in held}
            new.extend(t for t in self.buffers[task_type].tasks if t.key not in seen)
        for task_type, held in before.items():
            buffer = self.buffers[task_type]
            buffer.restore(held)
            buffer.extend(dataclasses.replace(t, task_type=task_type, id="") for t in new)

    # -- probe: a fixed set of tasks, scored the same way every time -----------------------------
    def probe_tasks(self, size: int) -> list[dict[str, Any]]:
        """The first `size` CRUXEval problems, alternating deduction and abduction."""
        rows = _cruxeval_rows(size)
        tasks = []
        for i, row in enumerate(rows):
            task_type = "deduction" if i % 2 == 0 else "abduction"
            tasks.append({"task_type": task_type, "program": row["code"], "input": row["input"],
                          "output": row["output"]})
        return tasks

    def probe(self, complete: Completer, size: int) -> dict[str, float]:
        """Format validity and accuracy of the current policy (`complete`: its greedy
        completions) on the fixed probe tasks."""
        tasks = self.probe_tasks(size)
        if not tasks:
            return {}
        infos = score_posed(tasks, complete,
                            self.executor, self.env_config)
        n = len(infos)
        return {"format_ok": sum(bool(i.get("format_ok")) for i in infos) / n,
                "accuracy": sum(bool(i.get("accuracy")) for i in infos) / n, "tasks": float(n)}

    # -- persistence --------------------------------------------------------------------------
    def buffer_sizes(self) -> dict[str, int]:
        assert self.buffers is not None
        return {t: len(self.buffers[t]) for t in self.config.task_types}

    def save_buffers(self, path: Path) -> None:
        assert self.buffers is not None
        self.buffers.save(path)

    def close(self) -> None:
        for env in [*self.envs.values(), *self.seed_envs.values()]:
            env.close()
        self.executor.close()

    def __enter__(self) -> SelfPlaySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def score_posed(tasks: Sequence[dict[str, Any]], complete: Callable[[list[str]], list[str]],
                executor: Executor, env_config: EnvConfig) -> list[dict[str, Any]]:
    """Pose each task to the env (`reset(options={"task": ...})`), complete every prompt in one
    batch, and let the env score each completion; the step infos, in the order of `tasks`.
    Probes use it, so they see the same format, parser and sandboxed checks as training."""
    env = gymnasium.make("azr_env/SelfPlay-v0", config=env_config, executor=executor)
    try:
        prompts = [env.reset(seed=i, options={"task": t})[0]["prompt"] for i, t in enumerate(tasks)]
        completions = complete(prompts)
        infos = []
        for i, (task, completion) in enumerate(zip(tasks, completions, strict=True)):
            env.reset(seed=i, options={"task": task})
            infos.append(env.step(completion)[4])
    finally:
        env.close()
    return infos


def _cruxeval_rows(size: int) -> list[dict[str, Any]]:
    try:
        text = resources.files("azr_env").joinpath("data/cruxeval/cruxeval.jsonl").read_text()
    except (FileNotFoundError, ModuleNotFoundError):
        return []
    return [json.loads(line) for line in text.splitlines()[:size] if line.strip()]


def load_buffers(path: Path, config: SelfPlayConfig) -> TaskBuffers:
    """Buffers saved by a checkpoint (or `azr train`'s buffers.jsonl), with the run's options."""
    return TaskBuffers.load(path, config.env.buffers)
