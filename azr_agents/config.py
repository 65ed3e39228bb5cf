"""Every hyperparameter of a run, with its default, in one structured config.

`load_config(preset, overrides)` starts from these dataclasses, merges a YAML preset from
`azr_agents/configs/` (or a path), then `key.sub=value` overrides. Unknown keys and wrong types
raise `AZRConfigError` naming the key. The resolved config is printed at the start of a run and
saved beside its results.

Defaults here are the paper's (Table 3) where the paper gives one; presets scale them down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from azr_agents.errors import AZRConfigError
from azr_agents.policies.config import PolicyConfig
from azr_agents.saved_config import upgrade_saved_config
from azr_env.config import EnvConfig
from azr_env.tasks import available_task_types

PRESETS_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_PRESET = "cpu-learn"


@dataclass
class GenerationConfig:
    """Sampling for proposals, solutions and the learnability estimate (same temperature: the
    learnability estimate must see the solver as it is trained)."""

    max_new_tokens: int = 8096
    temperature: float = 1.0
    top_p: float = 1.0
    max_prompt_tokens: int | None = None
    """Cap on a prompt's length in the policy's tokens (`Policy.encode`, chat template
    included); None: no cap. Over the cap, a proposer's references are drawn again (then fewer
    are shown) and a solve task is swapped for a fitting one of its draw, as the reference code
    does with its `content_max_length` (5600, which `paper-7b` sets); see `azr_env.prompt_cap`."""


@dataclass
class SelfPlayConfig:
    """The propose/solve loop (docs/agent.md), and the env it plays (`env`)."""

    batch_size: int = 64
    """B: proposals per task type per step, and solve tasks per task type per step."""
    samples_per_prompt: int = 1
    """G: completions sampled per prompt (the paper: 1). With G > 1 every (task type, role) group
    trains on B prompts x G completions sharing a prompt id, so `grpo` and `rloo` get real
    groups."""
    seed_factor: int = 4
    """Seeding fills each buffer with batch_size x seed_factor valid tasks before training."""
    max_seeding_rounds: int = 50
    """Give up seeding after this many proposal rounds (a small model may rarely propose validly)
    and train with what the buffers hold."""
    task_types: list[str] = field(default_factory=lambda: ["deduction", "abduction", "induction"])
    """Registered task types to play (`azr_env.tasks.register_task_type` adds one)."""
    solve_tasks: str = "this_step"
    """Which buffers a step's solve tasks come from: `this_step` (after this step's proposals
    joined them, the spec's order) or `previous_step` (drawn before this step proposes, as the
    reference does: its solver batch is built before the proposals are generated)."""
    env: EnvConfig = field(default_factory=EnvConfig)
    """The env's own config (`azr_env.config.EnvConfig`), nested as it is, with its defaults:
    every env option is `selfplay.env.<option>`, e.g. `selfplay.env.format=completion`,
    `selfplay.env.rewards.num_samples=4` (n, learnability samples),
    `selfplay.env.buffers.num_references=2` (K), `selfplay.env.executor.timeout_s=5`. The
    session's envs share one executor built from `env.executor`."""


@dataclass
class OptimConfig:
    """PPO-clip update (docs/concepts.md#trr-task-relative-reinforce)."""

    lr: float = 1e-6
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 1.0
    clip_low: float = 0.2
    clip_high: float = 0.2
    """0.28 gives the newer reference branch's clip-higher."""
    entropy_coef: float = 0.001
    ppo_epochs: int = 1
    micro_batch_size: int = 8
    """Sequences per forward/backward pass; gradients accumulate over a whole mini-batch."""
    mini_batches_per_step: int = 1
    """Optimizer steps per PPO epoch: the step's trainable samples are split, in self-play order
    (propose groups, then solve groups), into this many mini-batches, each followed by a gradient
    clip and an optimizer step; advantages are still computed once over the whole batch. 1 is one
    update per step; the reference (veRL's `ppo_mini_batch_size`, 128 of 6 x 64 samples) takes 3,
    one per task type's worth of samples, which `paper-7b` sets."""
    sharding: str = "none"
    """`none`: every process holds the whole model, its gradients and AdamW state, and gradients
    are averaged by hand. `fsdp`: with several processes, the trainable model is sharded with
    PyTorch FSDP2 (each process holds 1/N of weights, gradients and AdamW state), as the
    reference's veRL does; full weights are gathered for generation and checkpoints
    (`azr_agents.policies.sharding`, docs/scaling.md). `paper-7b` sets it."""
    skip_zero_advantage: bool = True
    """Skip the forward and backward of samples whose advantage is zero on every token while
    `entropy_coef` is 0: their gradient is exactly zero, so the update is the same (the loss
    still divides by all the mini-batch's tokens, and AdamW still steps on zero gradients). A
    small model's early steps are mostly such samples (a group whose answers all score alike).
    The update's metrics (entropy, clip fraction, sampler KL) then cover the computed samples;
    `update/skipped_samples` counts the others."""
    old_logprobs: str = "auto"
    """Where PPO's pi_old comes from. "sampler": the log-probs returned with each sample;
    "recompute": one no-grad forward of the training model over the step's samples before the
    first optimizer step (what the reference's veRL does); "auto": recompute when the sampler is
    not the training model itself (vLLM, `policy.generation_dtype` bf16/int8: the policy's
    `exact_logprobs` is False), else use the sampler's. Whenever both exist, their mismatch
    (KL(sampler || trainer) per token) is logged as `update/sampler_kl`."""


@dataclass
class EstimatorConfig:
    name: str = "trr++"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunConfig:
    steps: int = 500
    seed: int = 0
    run_dir: str | None = None
    """None: runs/<date>-<preset>."""
    checkpoint_every: int = 10
    keep_checkpoints: int = 2
    plot_every: int = 1
    probe_every: int = 5
    """Score a fixed probe set (format validity, solve rate) every this many steps; 0 disables."""
    probe_size: int = 16
    log_samples: int = 16
    """samples.jsonl: log at most this many samples per (task type, role) group per step (prompt,
    completion, parsed answer, reward, reason, advantage); 0 turns it off."""


@dataclass
class AZRConfig:
    """A whole run."""

    preset: str = DEFAULT_PRESET
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    selfplay: SelfPlayConfig = field(default_factory=SelfPlayConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    estimator: EstimatorConfig = field(default_factory=EstimatorConfig)
    run: RunConfig = field(default_factory=RunConfig)


def preset_path(preset: str) -> Path:
    """A preset name (`cpu-smoke`) or a path to a YAML file."""
    candidate = Path(preset)
    if candidate.suffix in (".yaml", ".yml") and candidate.exists():
        return candidate
    path = PRESETS_DIR / f"{preset}.yaml"
    if not path.exists():
        names = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
        raise AZRConfigError(
            f"unknown preset {preset!r}; available: {names} (or a path to a .yaml file)"
        )
    return path


def load_config(preset: str = DEFAULT_PRESET, overrides: list[str] | None = None) -> AZRConfig:
    """Defaults, then the preset, then `key.sub=value` overrides; validated."""
    base = OmegaConf.structured(AZRConfig)
    try:
        merged = OmegaConf.merge(base, OmegaConf.load(preset_path(preset)),
                                 OmegaConf.from_dotlist(list(overrides or [])))
    except OmegaConfBaseException as exc:
        raise AZRConfigError(_explain(exc)) from None
    merged.preset = preset
    config: AZRConfig = OmegaConf.to_object(merged)  # type: ignore[assignment]
    validate(config)
    return config


def _explain(exc: OmegaConfBaseException) -> str:
    key = getattr(exc, "full_key", None)
    message = str(exc).splitlines()[0]
    return f"bad config key {key!r}: {message}" if key else f"bad config: {message}"


def validate(config: AZRConfig) -> None:
    """Values that would fail late, deep in a run, fail here with the key to change."""
    sp, opt, gen = config.selfplay, config.optim, config.generation
    checks = [
        (sp.batch_size >= 1, "selfplay.batch_size must be >= 1"),
        (sp.samples_per_prompt >= 1, "selfplay.samples_per_prompt must be >= 1"),
        (config.run.log_samples >= 0, "run.log_samples must be >= 0 (0: no samples.jsonl)"),
        (sp.seed_factor >= 0, "selfplay.seed_factor must be >= 0"),
        (sp.solve_tasks in ("this_step", "previous_step"),
         "selfplay.solve_tasks must be 'this_step' or 'previous_step'"),
        (gen.max_new_tokens >= 1, "generation.max_new_tokens must be >= 1"),
        (gen.max_prompt_tokens is None or gen.max_prompt_tokens >= 1,
         "generation.max_prompt_tokens must be >= 1 (or null: no cap)"),
        (gen.temperature > 0, "generation.temperature must be > 0"),
        (0 < gen.top_p <= 1, "generation.top_p must be in (0, 1]"),
        (opt.lr >= 0, "optim.lr must be >= 0 (0 freezes the weights: a control run)"),
        (0 <= opt.clip_low < 1 and opt.clip_high >= 0,
         "optim.clip_low must be in [0, 1), clip_high >= 0"),
        (opt.ppo_epochs >= 1, "optim.ppo_epochs must be >= 1"),
        (opt.micro_batch_size >= 1, "optim.micro_batch_size must be >= 1"),
        (opt.mini_batches_per_step >= 1, "optim.mini_batches_per_step must be >= 1"),
        (opt.sharding in ("none", "fsdp"), "optim.sharding must be 'none' or 'fsdp'"),
        (opt.old_logprobs in ("auto", "sampler", "recompute"),
         "optim.old_logprobs must be 'auto', 'sampler' or 'recompute'"),
        (config.run.steps >= 0, "run.steps must be >= 0"),
        (config.run.checkpoint_every >= 1, "run.checkpoint_every must be >= 1"),
    ]
    for ok, message in checks:
        if not ok:
            raise AZRConfigError(message)
    registered = available_task_types()
    unknown = [t for t in sp.task_types if t not in registered]
    if unknown or not sp.task_types:
        raise AZRConfigError(
            f"selfplay.task_types must be a non-empty list of registered task types {registered} "
            f"(register_task_type adds one, e.g. from an --import module); unknown: {unknown}"
        )
    config.policy.validate()
    try:
        sp.env.validate()  # bad env values fail before a model loads
    except AZRConfigError as exc:
        raise AZRConfigError(f"selfplay.env: {exc}") from None
    from azr_agents import estimators

    # fails now, not after loading
    estimators.get(config.estimator.name, **config.estimator.options)


def to_yaml(config: AZRConfig) -> str:
    """The resolved config as YAML (printed at the start of a run, saved in the run folder)."""
    return OmegaConf.to_yaml(OmegaConf.structured(config))


def from_yaml(text: str) -> AZRConfig:
    """Read back a config saved by `to_yaml` (for `--resume`), also one saved before the env
    config was nested (`azr_agents.saved_config`)."""
    try:
        raw = OmegaConf.to_container(OmegaConf.create(text))
        if not isinstance(raw, dict):
            raise AZRConfigError("a saved config must be a mapping (policy, optim, ...)")
        saved = upgrade_saved_config({str(k): v for k, v in raw.items()})
        merged = OmegaConf.merge(OmegaConf.structured(AZRConfig), OmegaConf.create(saved))
    except OmegaConfBaseException as exc:
        raise AZRConfigError(_explain(exc)) from None
    config: AZRConfig = OmegaConf.to_object(merged)  # type: ignore[assignment]
    return config


