"""`AZREnv`: the Absolute Zero self-play environment as a one-step `gymnasium.Env`.

Each episode is one completion: `reset` poses a prompt for one (task type, role) group, `step`
scores the completion and ends the episode (`terminated=True`). `SelfPlay-v0` cycles the six
groups (propose deduction, abduction, induction, then solve them), so six consecutive episodes
are one self-play step of a batch of one; the focused ids stay on one group. All scoring lives in
`SelfPlayCore`, which the vector env shares, so a vector env of B scores like B of these.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from azr_env.buffers import TaskBuffers
from azr_env.config import EnvConfig, build_config
from azr_env.core import ROLES, SelfPlayCore
from azr_env.episode import Episode
from azr_env.errors import AZRConfigError
from azr_env.executor import Executor
from azr_env.formats import PROPOSE, SOLVE
from azr_env.scoring import Solver
from azr_env.sources import SourceSpec, TaskSource, source_for
from azr_env.spaces import AnyText, observation_space
from azr_env.task import TASK_TYPES, ZERO_STEP

Observation = dict[str, str]

SHARED_ARGUMENTS: tuple[str, ...] = ("executor", "solver", "buffers")
"""Constructor arguments that are live objects, passed on by reference when re-made from a spec."""


class Shared:
    """Holds a live constructor argument so that `copy.deepcopy` of an env spec keeps it as is.

    `gymnasium.make` records the kwargs in `env.spec`, and re-making an env from its spec
    (`check_env` does) deep-copies them: an executor (it holds a lock and processes) or a
    solver bound to a model must be shared, not copied.
    """

    def __init__(self, value: Any) -> None:
        self.value = value

    def __deepcopy__(self, memo: dict[int, Any]) -> Shared:
        return self

    def __repr__(self) -> str:
        return f"Shared({type(self.value).__name__})"


def unshare(value: Any) -> Any:
    """The object a `Shared` holds (anything else unchanged)."""
    return value.value if isinstance(value, Shared) else value


def task_role_groups(
    task_types: Sequence[str] | str | None, roles: Sequence[str] | str | None
) -> list[tuple[str, str]]:
    """The (task type, role) groups an env cycles through: all proposals first, then solving.

    That is the order of one self-play step (docs/concepts.md#one-self-play-step): buffers grow
    before solve tasks are drawn from them.
    """
    types = [task_types] if isinstance(task_types, str) else list(task_types or TASK_TYPES)
    chosen = [roles] if isinstance(roles, str) else list(roles or ROLES)
    bad = [r for r in chosen if r not in ROLES]
    if bad or not chosen or not types:
        raise AZRConfigError(f"roles must be among {list(ROLES)} and task_types non-empty")
    return [(t, r) for r in ROLES if r in chosen for t in types]


class AZREnv(gym.Env[Observation, str]):
    """Propose and solve deduction, abduction and induction tasks, scored in a sandbox.

    Args:
        task_types: the task types whose groups this env cycles (default: all three).
        roles: the roles cycled for each of them (default: propose and solve).
        config: an `EnvConfig` (or a dict of its fields); keyword overrides of its fields may
            also be passed directly (`format="plain"`, `rewards={"mode": "reference"}`).
        solver: a callable from a list of solve prompts to one completion each, used to
            estimate a proposal's learnability with n attempts. Without one, propose steps
            score validity only (0 for valid, -1 for invalid; `info["learnability_estimated"]`
            is False).
        executor: an `Executor` to share (closing the env leaves it running); by default the
            env starts its own from `config.executor` and closes it in `close()`.
        buffers: a `TaskBuffers` to share or resume from (default: fresh, from the zero tasks).
        source: where solve tasks come from instead of the buffers: `"generator"`,
            `"cruxeval"`, `"humaneval"`, a `.jsonl` path or a `TaskSource` (see
            `azr_env.sources.get_source`). Each task is validated in the sandbox once.
        render_mode: None or "ansi" (the current prompt and the last reward as text).
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 1}  # noqa: RUF012

    def __init__(
        self,
        task_types: Sequence[str] | str | None = None,
        roles: Sequence[str] | str | None = None,
        *,
        config: EnvConfig | Mapping[str, Any] | None = None,
        solver: Solver | None = None,
        executor: Executor | None = None,
        buffers: TaskBuffers | None = None,
        source: SourceSpec | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise AZRConfigError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        executor, solver, buffers = unshare(executor), unshare(solver), unshare(buffers)
        self.config = build_config(config, overrides)
        self.groups = task_role_groups(task_types, roles)
        self.core = SelfPlayCore(
            self.config, executor=executor, solver=solver, buffers=buffers,
            task_types=list(dict.fromkeys(t for t, _ in self.groups)),
            source=solve_source(source, self.config, self.groups),
        )
        self.observation_space = observation_space(  # type: ignore[assignment]
            self.config.max_prompt_chars
        )
        self.action_space = AnyText(self.config.max_completion_chars)
        self._spec: EnvSpec | None = None
        self._cycle = 0
        self._steps = 0
        self._episode: Episode | None = None
        self._last: tuple[float, str] | None = None

    @property
    def spec(self) -> EnvSpec | None:
        """The registration spec; live objects in its kwargs are wrapped in `Shared`."""
        return self._spec

    @spec.setter
    def spec(self, value: EnvSpec | None) -> None:
        if value is not None:
            kwargs = {k: Shared(v) if k in SHARED_ARGUMENTS and v is not None else v
                      for k, v in value.kwargs.items()}
            value = dataclasses.replace(value, kwargs=kwargs)
        self._spec = value

    # -- shared state ----------------------------------------------------------------------------
    @property
    def buffers(self) -> TaskBuffers:
        """The task buffers (shared with every env built on the same core or buffers)."""
        return self.core.buffers

    @property
    def executor(self) -> Executor:
        return self.core.executor

    @property
    def episode(self) -> Episode | None:
        """The episode posed by the last `reset` (None before the first, or after `step`)."""
        return self._episode

    # -- gymnasium API ---------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Observation, dict[str, Any]]:
        """Pose the next group's prompt; `options={"task": {...}}` poses your own solve task.

        A seed restarts the group cycle too, so `reset(seed=s)` always poses the same group.
        `options["task"]` holds `program` and `input` (or `inputs`), optionally `output(s)`
        (checked against what the program returns), `message` (induction) and `task_type`
        (default: the env's current group's type). Invalid tasks raise `AZRConfigError`.
        """
        super().reset(seed=seed)
        if seed is not None:
            self._cycle = 0
        options = dict(options or {})
        unknown = sorted(set(options) - {"task", "group"})
        if unknown:
            raise AZRConfigError(f"unknown reset option(s) {unknown}; known: 'task', 'group'")
        task_type, role = self.groups[self._cycle % len(self.groups)]
        if "group" in options:
            task_type, role = _group(options["group"], self.groups)
        else:
            self._cycle += 1
        if "task" in options:
            posed = self.core.pose_task(options["task"], task_type)
            self._episode = self.core.pose_solve(posed)
        elif role == PROPOSE:
            self._episode = self.core.pose_propose(task_type, self.np_random)
        else:
            warn_if_zero_only(self.core, task_type, self.groups)
            task, = self.core.draw_solve_tasks(task_type, self.np_random, 1)
            self._episode = self.core.pose_solve(task)
        self._last = None
        return self._episode.observation(), self._episode.reset_info(self.config.reveal_answers)

    def step(self, action: str) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        """Score one completion; the episode ends (`terminated=True`). Never raises on text."""
        if self._episode is None:
            raise gym.error.ResetNeeded("call reset() before step(): each episode is one step")
        episode = self._episode
        outcome, = self.core.score([episode], [action], self._steps)
        self._steps += 1
        self._episode = None
        self._last = (outcome.reward, str(outcome.info.get("reason")))
        return episode.observation(), float(outcome.reward), True, False, outcome.info

    def state_dict(self) -> dict[str, Any]:
        """The env's generator and counters (plain Python values, picklable), so that an agent
        can checkpoint it and go on exactly (the buffers are saved apart, with `buffers.save`)."""
        return {"np_random": self.np_random.bit_generator.state, "cycle": self._cycle,
                "steps": self._steps}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what `state_dict` returned; the next `reset()` (without a seed) continues."""
        self.np_random = generator_from_state(state["np_random"])
        self._cycle = int(state["cycle"])
        self._steps = int(state["steps"])

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        text = self._episode.prompt if self._episode is not None else "(episode over)"
        if self._last is not None:
            text += f"\n[reward {self._last[0]:+.2f}: {self._last[1]}]"
        return text

    def close(self) -> None:
        """Stop the executor if the env started it; a shared executor is left running."""
        self.core.close()
        super().close()


def generator_from_state(state: Mapping[str, Any]) -> np.random.Generator:
    """A generator in a saved `bit_generator.state` (of whichever bit generator it names)."""
    name = str(state.get("bit_generator", ""))
    bit_generator_type = getattr(np.random, name, None)
    if not isinstance(bit_generator_type, type) or not issubclass(
        bit_generator_type, np.random.BitGenerator
    ):
        raise AZRConfigError(f"not a saved numpy generator state (bit_generator={name!r})")
    bit_generator = bit_generator_type()
    bit_generator.state = dict(state)
    return np.random.Generator(bit_generator)


def solve_source(spec: SourceSpec | None, config: EnvConfig,
                 groups: Sequence[tuple[str, str]]) -> TaskSource | None:
    """The `TaskSource` of `source=`, checked to serve every solve group of the env.

    The generator writes induction tasks with the env's `induction_inputs` inputs.
    """
    if spec is None:
        return None
    source = source_for(spec, config.induction_inputs)
    missing = [t for t, role in groups if role == SOLVE and t not in source.task_types]
    if missing:
        raise AZRConfigError(
            f"the {source.name!r} source has no {missing} tasks (it has "
            f"{list(source.task_types)}); choose task_types it serves or another source"
        )
    return source


def warn_if_zero_only(core: SelfPlayCore, task_type: str,
                      groups: Sequence[tuple[str, str]]) -> None:
    """Warn (once per core) when a solve group with no proposer and no source draws from its own
    buffer that holds only the zero task: it would pose that one task forever. Buffers given to
    the env may be filled elsewhere (azr's session shares them with proposing envs)."""
    if core.source is not None or core.warned_zero_only or not core.owns_buffers \
            or (task_type, PROPOSE) in groups:
        return
    if all(task.step == ZERO_STEP for task in core.buffers[task_type]):
        core.warned_zero_only = True
        warnings.warn(
            f"this env solves {task_type} tasks with no proposer and no task source: it poses "
            "its buffer's zero task (the identity on 'Hello world') every time. Pass "
            "source='generator' (or 'cruxeval', 'humaneval', a .jsonl path) for a supply of "
            "tasks, buffers=... to solve the tasks they hold, or pose tasks with "
            "reset(options=...)", UserWarning, stacklevel=3,
        )


def _group(value: Any, groups: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """`options["group"]`: a (task type, role) pair this env serves."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and tuple(value) in groups:
        return str(value[0]), str(value[1])
    raise AZRConfigError(f"options['group'] must be one of {list(groups)}, got {value!r}")


__all__ = ["SOLVE", "AZREnv", "solve_source", "task_role_groups"]
