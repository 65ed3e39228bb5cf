"""`EnvConfig`: every option of the environment, with its default, in one omegaconf-friendly place.

Nested configs are the executor's, the rewards' and the buffers' own, so a YAML file or a dotted
override (`env.rewards.mode=reference`) reaches any of them. `validate()` raises one
`AZRConfigError` naming the option to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from azr_env.buffers import BufferConfig
from azr_env.errors import AZRConfigError
from azr_env.executor import ExecutorConfig
from azr_env.formats import DEFAULT_FORMAT, available_formats
from azr_env.rewards import RewardConfig
from azr_env.tasks.base import TaskSettings
from azr_env.tasks.long_outputs import LONG_OUTPUT_MODES
from azr_env.tasks.validation import check_determinism_mode


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AZRConfigError(f"{name} must be an int >= 1, got {value!r}")


@dataclass
class EnvConfig:
    """Options of `AZREnv` and `AZRVectorEnv`; defaults are the paper's
    (docs/concepts.md#the-papers-numbers).

    - `executor`: sandbox options (workers, `timeout_s` 10 s as the reference, `memory_mb`,
      `max_output_chars`: an output repr longer than this makes a proposal invalid).
    - `rewards`: `mode` (`paper` or `reference`, see `azr_env.rewards`) and `num_samples`
      (n = 8 solver attempts per valid proposal to estimate learnability).
    - `buffers`: cap, keep policy, K = 6 references, recent window.
    - `format`: the prompt format (`r1`, the reference template, or `plain`).
    - `determinism`: `same_process` (reference: f(input) twice in one run) or
      `separate_processes` (twice in two fresh processes; stricter, twice the jobs).
    - `induction_inputs`: inputs per induction proposal (paper: 10); the second half is held out.
    - `banned_modules`, `show_banned`: forbidden modules and whether prompts list them.
    - `max_program_chars`, `max_input_chars`, `max_message_chars`: caps on proposals.
    - `max_completion_chars`: longer actions are refused unread (penalty, reason
      `completion_too_long`); also the action space's `max_length`.
    - `max_prompt_chars`: the observation space's `max_length` for prompts.
    - `distinct_solve_tasks`: a vector env draws its solve tasks of one type together, without
      repeats (paper); False draws them per sub-env, exactly as single envs would.
    - `reveal_answers`: `reset`'s `info["task"]` holds the whole task, gold answers included;
      by default it holds only what the solver's prompt shows (and the task's id).
    - `one_function`: refuse a deduction/abduction program with more than one `def` line and
      rename its one function to `f`, as the reference does (default: any program with an `f`).
    - `induction_extra_inputs`: `reject` (default: exactly N input blocks) or `keep_last` (the
      reference: N or more, the last N kept).
    - `gold_imports`: run an induction solver's program after the import lines of the program
      the task was made from, as the reference does (default: the program runs as written).
    - `long_outputs`: `invalid` (default: an output repr over `executor.max_output_chars` makes
      the proposal invalid) or `unsolvable` (the reference's outcome: the task is kept, its gold
      a marker no answer matches; `azr_env.tasks.long_outputs`).
    """

    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    rewards: RewardConfig = field(default_factory=RewardConfig)
    buffers: BufferConfig = field(default_factory=BufferConfig)
    format: str = DEFAULT_FORMAT
    determinism: str = "same_process"
    # The options task types read default to `TaskSettings`' values (defined once, there).
    induction_inputs: int = TaskSettings.num_inputs
    banned_modules: list[str] = field(default_factory=lambda: list(TaskSettings.banned_modules))
    show_banned: bool = TaskSettings.show_banned
    max_program_chars: int = TaskSettings.max_program_chars
    max_input_chars: int = TaskSettings.max_input_chars
    max_message_chars: int = TaskSettings.max_message_chars
    max_completion_chars: int = 200_000
    max_prompt_chars: int = 1_000_000
    distinct_solve_tasks: bool = True
    reveal_answers: bool = False
    one_function: bool = False
    induction_extra_inputs: str = "reject"
    gold_imports: bool = False
    long_outputs: str = "invalid"

    def validate(self) -> None:
        """Raise `AZRConfigError` naming the option to fix."""
        for name, cls in (("executor", ExecutorConfig), ("rewards", RewardConfig),
                          ("buffers", BufferConfig)):
            if not isinstance(getattr(self, name), cls):
                raise AZRConfigError(f"EnvConfig.{name} must be a {cls.__name__}")
        self.executor.validate()
        self.rewards.validate()
        self.buffers.validate()
        if self.format not in available_formats():
            raise AZRConfigError(
                f"unknown prompt format {self.format!r}; choose one of {available_formats()}"
            )
        check_determinism_mode(self.determinism)
        if isinstance(self.induction_inputs, bool) or not isinstance(self.induction_inputs, int) \
                or self.induction_inputs < 2:
            raise AZRConfigError(
                f"induction_inputs must be an int >= 2 (half are shown, half held out; the "
                f"paper uses 10), got {self.induction_inputs!r}"
            )
        if not all(isinstance(m, str) and m for m in self.banned_modules):
            raise AZRConfigError("banned_modules must be a list of module names such as 'random'")
        if self.induction_extra_inputs not in ("reject", "keep_last"):
            raise AZRConfigError(
                "induction_extra_inputs must be 'reject' (exactly N inputs) or 'keep_last' "
                f"(the reference: the last N of more), got {self.induction_extra_inputs!r}"
            )
        if self.long_outputs not in LONG_OUTPUT_MODES:
            raise AZRConfigError(
                "long_outputs must be 'invalid' (an output over executor.max_output_chars makes "
                "the proposal invalid) or 'unsolvable' (the reference: kept, never solved), got "
                f"{self.long_outputs!r}"
            )
        for flag in ("one_function", "gold_imports"):
            if not isinstance(getattr(self, flag), bool):
                raise AZRConfigError(f"{flag} must be true or false, got {getattr(self, flag)!r}")
        for name in ("max_program_chars", "max_input_chars", "max_message_chars",
                     "max_completion_chars", "max_prompt_chars"):
            _positive(name, getattr(self, name))

    def task_settings(self) -> TaskSettings:
        """The view of this config that task types read."""
        return TaskSettings(
            banned_modules=tuple(self.banned_modules),
            show_banned=self.show_banned,
            num_inputs=self.induction_inputs,
            max_program_chars=self.max_program_chars,
            max_input_chars=self.max_input_chars,
            max_message_chars=self.max_message_chars,
            time_limit_s=self.executor.timeout_s,
            one_function=self.one_function,
            induction_extra_inputs=self.induction_extra_inputs,
            gold_imports=self.gold_imports,
        )


def build_config(
    config: EnvConfig | Mapping[str, Any] | None, overrides: Mapping[str, Any]
) -> EnvConfig:
    """An `EnvConfig` from a config object, a (possibly nested) dict, and keyword overrides.

    Accepts what `gymnasium.make(id, **kwargs)` passes through: `config=EnvConfig(...)`, a plain
    mapping (a dict, or an omegaconf DictConfig from YAML), and top-level fields as keywords; nested
    dicts fill nested configs.
    """
    if config is None:
        config = EnvConfig()
    elif isinstance(config, Mapping):
        overrides = {**config, **overrides}
        config = EnvConfig()
    elif not isinstance(config, EnvConfig):
        raise AZRConfigError(f"config must be an EnvConfig or a dict, got {type(config).__name__}")
    else:
        config = EnvConfig(**{k: getattr(config, k) for k in config.__dataclass_fields__})
    known = set(EnvConfig.__dataclass_fields__)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise AZRConfigError(f"unknown env option(s) {unknown}; known: {sorted(known)}")
    nested: dict[str, Any] = {
        "executor": ExecutorConfig, "rewards": RewardConfig, "buffers": BufferConfig
    }
    for name, value in overrides.items():
        if name in nested and isinstance(value, Mapping):
            cls = nested[name]
            bad = sorted(set(value) - set(cls.__dataclass_fields__))
            if bad:
                raise AZRConfigError(f"unknown {name} option(s) {bad}")
            value = cls(**{str(k): v for k, v in value.items()})
        setattr(config, name, value)
    config.validate()
    return config
