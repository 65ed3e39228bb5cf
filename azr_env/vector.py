"""`AZRVectorEnv`: B sub-envs on one buffer set, one executor and one solver, scored in batch.

Made by `gymnasium.make_vec(id, num_envs=B, vectorization_mode="vector_entry_point")`. A step
sends all B completions to `SelfPlayCore.score` at once: one `run_batch` validates every
proposal, one solver call makes all B x n learnability attempts, one check per task type judges
them. Episodes are one step, so the env resets sub-envs in the same step
(`AutoresetMode.SAME_STEP`): `step` returns the next prompts as observations, and the scored
step's infos under `infos["final_info"]` (its observations under `infos["final_obs"]`), as
Gymnasium's vector API prescribes.

Sub-env i draws from its own generator seeded with `seed + i`, as the i-th of B single envs
would. Solve tasks of one type are drawn for all sub-envs together without repeats
(`EnvConfig.distinct_solve_tasks`, the paper's batch), from the vector env's own generator; set
it False to draw per sub-env, exactly like B single envs.

With `samples_per_prompt=G`, consecutive blocks of G sub-envs share one posed episode (the same
prompt and task; the first sub-env of a block draws it), so that a group-baseline estimator
(GRPO, RLOO) gets G completions of each prompt. `state_dict()` / `load_state_dict()` carry every
generator and counter, so an agent can checkpoint the env and resume it exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from azr_env.buffers import TaskBuffers
from azr_env.config import EnvConfig, build_config
from azr_env.core import SelfPlayCore
from azr_env.env import generator_from_state, solve_source, task_role_groups, warn_if_zero_only
from azr_env.episode import Episode
from azr_env.errors import AZRConfigError
from azr_env.executor import Executor
from azr_env.formats import PROPOSE
from azr_env.scoring import Solver
from azr_env.sources import SourceSpec
from azr_env.spaces import AnyText, observation_space

Observations = dict[str, np.ndarray]


class AZRVectorEnv(VectorEnv[Observations, Sequence[str], np.ndarray]):
    """A native batched AZR env; arguments as `AZREnv`'s, plus `num_envs`."""

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP,  # noqa: RUF012
                                "render_modes": []}

    def __init__(
        self,
        num_envs: int = 1,
        task_types: Sequence[str] | str | None = None,
        roles: Sequence[str] | str | None = None,
        *,
        config: EnvConfig | Mapping[str, Any] | None = None,
        solver: Solver | None = None,
        executor: Executor | None = None,
        buffers: TaskBuffers | None = None,
        source: SourceSpec | None = None,
        render_mode: str | None = None,
        samples_per_prompt: int = 1,
        **overrides: Any,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise AZRConfigError(f"num_envs must be an int >= 1, got {num_envs!r}")
        if isinstance(samples_per_prompt, bool) or not isinstance(samples_per_prompt, int) \
                or samples_per_prompt < 1 or num_envs % samples_per_prompt:
            raise AZRConfigError(
                f"samples_per_prompt must be an int >= 1 that divides num_envs ({num_envs}), "
                f"got {samples_per_prompt!r}"
            )
        self.samples_per_prompt = samples_per_prompt
        if render_mode is not None:
            raise AZRConfigError("the vector env does not render; use render_mode=None")
        self.num_envs = num_envs
        self.render_mode = None
        self.config = build_config(config, overrides)
        self.groups = task_role_groups(task_types, roles)
        self.core = SelfPlayCore(
            self.config, executor=executor, solver=solver, buffers=buffers,
            task_types=list(dict.fromkeys(t for t, _ in self.groups)),
            source=solve_source(source, self.config, self.groups),
        )
        self.single_observation_space = observation_space(self.config.max_prompt_chars)
        self.single_action_space = AnyText(self.config.max_completion_chars)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs: list[np.random.Generator] = []
        self._cycles = [0] * num_envs
        self._episodes: list[Episode] = []
        self._steps = 0

    @property
    def buffers(self) -> TaskBuffers:
        return self.core.buffers

    @property
    def executor(self) -> Executor:
        return self.core.executor

    def _seed(self, seed: int | Sequence[int] | None) -> None:
        if seed is None:
            if not self._rngs:
                self._rngs = [seeding.np_random(None)[0] for _ in range(self.num_envs)]
            return
        seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else list(seed)
        if len(seeds) != self.num_envs:
            raise AZRConfigError(f"reset needs one seed per sub-env ({self.num_envs}), got {seeds}")
        self._rngs = [seeding.np_random(s)[0] for s in seeds]
        self._cycles = [0] * self.num_envs

    def _pose(self, indices: Sequence[int]) -> None:
        """Pose the next episode of each sub-env in `indices` (a block's first sub-env draws it
        and the others of its block share it)."""
        group = self.samples_per_prompt
        leaders = [i for i in indices if i % group == 0]
        solve: dict[str, list[int]] = {}
        for i in leaders:
            task_type, role = self.groups[self._cycles[i] % len(self.groups)]
            self._cycles[i] += 1
            if role == PROPOSE:
                self._episodes[i] = self.core.pose_propose(task_type, self._rngs[i])
            else:
                solve.setdefault(task_type, []).append(i)
        for task_type, envs in solve.items():
            warn_if_zero_only(self.core, task_type, self.groups)
            if self.config.distinct_solve_tasks:
                tasks = self.core.draw_solve_tasks(task_type, self.np_random, len(envs))
            else:
                tasks = [self.core.draw_solve_tasks(task_type, self._rngs[i], 1)[0] for i in envs]
            for i, task in zip(envs, tasks, strict=True):
                self._episodes[i] = self.core.pose_solve(task)
        for i in indices:
            if i % group:
                self._episodes[i] = self._episodes[i - i % group]
                self._cycles[i] = self._cycles[i - i % group]

    def state_dict(self) -> dict[str, Any]:
        """Every generator and counter of the env (plain Python values, picklable), so that an
        agent can checkpoint it and go on exactly where it stopped (the buffers are saved apart,
        with `buffers.save`)."""
        return {"np_random": self.np_random.bit_generator.state,
                "rngs": [rng.bit_generator.state for rng in self._rngs],
                "cycles": list(self._cycles), "steps": self._steps}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what `state_dict` returned; the next `reset()` (without a seed) continues from
        it. The episodes posed now are kept until then."""
        if len(state["rngs"]) != self.num_envs:
            raise AZRConfigError(
                f"this state is of {len(state['rngs'])} sub-envs, the env has {self.num_envs}"
            )
        self.np_random = generator_from_state(state["np_random"])
        self._rngs = [generator_from_state(s) for s in state["rngs"]]
        self._cycles = [int(c) for c in state["cycles"]]
        self._steps = int(state["steps"])

    def _observations(self) -> Observations:
        def column(key: str) -> np.ndarray:
            values = np.empty(self.num_envs, dtype=object)
            values[:] = [e.observation()[key] for e in self._episodes]
            return values

        return {"prompt": column("prompt"), "role": column("role"),
                "task_type": column("task_type")}

    def _infos(self, infos: list[dict[str, Any]]) -> dict[str, Any]:
        batched: dict[str, Any] = {}
        for i, info in enumerate(infos):
            batched = self._add_info(batched, info, i)
        return batched

    def reset(
        self,
        *,
        seed: int | list[int] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[Observations, dict[str, Any]]:
        """Pose a prompt in every sub-env; `seed` (an int or one per sub-env) reseeds them.

        `options={"tasks": [...]}` poses your own solve tasks: one task dict per sub-env (as
        `AZREnv`'s `options["task"]`), or None where the sub-env draws its own; all of them are
        validated in one sandbox batch, and an invalid one raises `AZRConfigError`.
        """
        super().reset(seed=seed if isinstance(seed, int) or seed is None else int(seed[0]))
        specs = self._posed_specs(options)
        self._seed(seed)
        self._episodes = [Episode("", "", "")] * self.num_envs
        posed = [i for i, spec in enumerate(specs) if spec is not None]
        self._pose([i for i in range(self.num_envs) if specs[i] is None])
        if posed:
            types = []
            for i in posed:
                types.append(self.groups[self._cycles[i] % len(self.groups)][0])
                self._cycles[i] += 1
            tasks = self.core.pose_tasks([specs[i] for i in posed], types,
                                         [f"options['tasks'][{i}]" for i in posed])
            for i, task in zip(posed, tasks, strict=True):
                self._episodes[i] = self.core.pose_solve(task)
        return self._observations(), self._reset_infos()

    def _posed_specs(self, options: dict[str, Any] | None) -> list[Any]:
        """`options["tasks"]`: one task spec (as `AZREnv`'s `options["task"]`) or None per
        sub-env."""
        options = dict(options or {})
        unknown = sorted(set(options) - {"tasks"})
        if unknown:
            raise AZRConfigError(
                f"unknown reset option(s) {unknown}; the vector env takes 'tasks': a list of "
                f"{self.num_envs} task dicts (None where the sub-env draws its own)"
            )
        specs = options.get("tasks")
        if specs is None:
            return [None] * self.num_envs
        if not isinstance(specs, (list, tuple)) or len(specs) != self.num_envs:
            raise AZRConfigError(
                f"options['tasks'] must be a list of {self.num_envs} task dicts (one per sub-env, "
                f"None where it draws its own), got {type(specs).__name__}"
                + (f" of length {len(specs)}" if isinstance(specs, (list, tuple)) else "")
            )
        return list(specs)

    def _reset_infos(self) -> dict[str, Any]:
        reveal = self.config.reveal_answers
        return self._infos([e.reset_info(reveal) for e in self._episodes])

    def step(
        self, actions: Sequence[str]
    ) -> tuple[Observations, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Score all B completions together, then pose the next prompts (same-step autoreset)."""
        if not self._episodes:
            raise gym.error.ResetNeeded("call reset() before step()")
        actions = self._batch(actions)
        finished = list(self._episodes)
        outcomes = self.core.score(finished, actions, self._steps)
        self._steps += 1
        final_obs = np.empty(self.num_envs, dtype=object)
        final_obs[:] = [e.observation() for e in finished]
        self._pose(range(self.num_envs))
        infos = self._reset_infos()
        infos["final_info"] = self._infos([o.info for o in outcomes])
        infos["_final_info"] = np.ones(self.num_envs, dtype=bool)
        infos["final_obs"] = final_obs
        infos["_final_obs"] = np.ones(self.num_envs, dtype=bool)
        rewards = np.array([o.reward for o in outcomes], dtype=np.float64)
        terminated = np.ones(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        return self._observations(), rewards, terminated, truncated, infos

    def _batch(self, actions: Any) -> list[Any]:
        """The B actions of a step. A batch that is not a sequence of B items is the caller's
        mistake and raises; an item that is not text (None, bytes) is the model's and scores -1
        with reason `not_text` in its sub-env, as in `AZREnv`."""
        if actions is None or isinstance(actions, (str, bytes, bytearray, Mapping)):
            kind = "None" if actions is None else type(actions).__name__
            raise AZRConfigError(
                f"step needs a sequence of {self.num_envs} completions (a list with one str "
                f"per sub-env), got a {kind}"
            )
        try:
            batch = list(actions)
        except TypeError:
            raise AZRConfigError(
                f"step needs a sequence of {self.num_envs} completions, got "
                f"{type(actions).__name__}"
            ) from None
        if len(batch) != self.num_envs:
            raise AZRConfigError(f"step needs {self.num_envs} actions, got {len(batch)}")
        return batch

    def close_extras(self, **kwargs: Any) -> None:
        """Stop the executor if this env started it."""
        self.core.close()
