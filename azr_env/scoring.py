"""Scoring parsed completions: solver answers by accuracy, proposals by validity and learnability.

Called by `azr_env.core.SelfPlayCore.score` with everything that parsed; each function handles
a whole batch with one executor call per phase and one solver call. A sandbox failure (`infra`)
is never scored as the model's fault: the completion gets reward 0 and `info["infra"] = True`, so
a trainer can drop it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from azr_env.buffers import TaskBuffers
from azr_env.config import EnvConfig
from azr_env.episode import Episode, Outcome, outcome
from azr_env.errors import AZRConfigError
from azr_env.executor import Executor
from azr_env.executor.checks import Verdict
from azr_env.formats import SOLVE, PromptFormat
from azr_env.rewards import RewardBreakdown, propose_reward, solve_reward
from azr_env.task import Task
from azr_env.tasks import Proposal, TaskSettings, TaskType, Validation, get_task_type
from azr_env.tasks.validation import validate_proposals

Solver = Callable[[list[str]], Sequence[str]]
"""A batch of solve prompts -> one completion each (sampled at the training temperature)."""


class ScoringCore(Protocol):
    """What scoring needs of `azr_env.core.SelfPlayCore` (a protocol, so that the core imports
    scoring and not the reverse)."""

    config: EnvConfig
    settings: TaskSettings
    format: PromptFormat
    buffers: TaskBuffers
    solver: Solver | None

    @property
    def executor(self) -> Executor: ...

    def task_type(self, name: str) -> TaskType: ...

    def pose_solve(self, task: Task) -> Episode: ...

    def check(self, pairs: Sequence[tuple[Task, str]]) -> list[Verdict]: ...


def _scored(episode: Episode, breakdown: RewardBreakdown, **extra: Any) -> Outcome:
    return outcome(episode, breakdown.reward, breakdown.reason, breakdown=breakdown, **extra)


def _infra(episode: Episode, detail: str | None, **extra: Any) -> Outcome:
    """The sandbox failed: reward 0, `infra` set, so that a trainer can drop the sample."""
    return outcome(episode, 0.0, "infra", detail=detail, infra=True, **extra)


def score_solutions(
    core: ScoringCore, items: Sequence[tuple[Episode, str]]
) -> list[tuple[int, Outcome]]:
    """Accuracy rewards for parsed solver answers (docs/concepts.md#rewards): 1, else -0.5."""
    if not items:
        return []
    pairs = []
    for episode, answer in items:
        if episode.task is None:
            raise AZRConfigError("a solve episode has no task; call reset() before step()")
        pairs.append((episode.task, answer))
    verdicts = core.check(pairs)
    out = []
    for i, ((episode, answer), verdict) in enumerate(zip(items, verdicts, strict=True)):
        if verdict.infra:
            out.append((i, _infra(episode, verdict.detail, answer=answer)))
            continue
        breakdown = solve_reward(format_ok=True, correct=verdict.correct,
                                 reason="correct" if verdict.correct else verdict.reason or "wrong")
        out.append((i, _scored(episode, breakdown, answer=answer, detail=verdict.detail)))
    return out


def solve_attempts(core: ScoringCore, tasks: Sequence[Task]) -> list[list[float]]:
    """n solver attempts on each task, in one solver call and one check per task type.

    Returns the 0/1 outcomes per task; an attempt the sandbox failed to judge is left out.
    """
    if core.solver is None or not tasks:
        return [[] for _ in tasks]
    n = core.config.rewards.num_samples
    prompts = [core.pose_solve(task).prompt for task in tasks for _ in range(n)]
    completions = list(core.solver(prompts))
    if len(completions) != len(prompts):
        raise AZRConfigError(
            f"the solver returned {len(completions)} completions for {len(prompts)} prompts; "
            "it must return exactly one completion per prompt"
        )
    outcomes: list[list[float]] = [[] for _ in tasks]
    to_check: list[tuple[int, tuple[Task, str]]] = []
    for j, completion in enumerate(completions):
        task = tasks[j // n]
        answer = (core.format.extract(completion, task.task_type, SOLVE)
                  if isinstance(completion, str) else None)
        parsed = None
        if answer is not None and len(completion) <= core.config.max_completion_chars:
            parsed = get_task_type(task.task_type).parse_answer(core.format, answer)
        if parsed is None:
            outcomes[j // n].append(0.0)
        else:
            to_check.append((j // n, (task, parsed)))
    verdicts = core.check([pair for _, pair in to_check])
    for (k, _), verdict in zip(to_check, verdicts, strict=True):
        if not verdict.infra:
            outcomes[k].append(1.0 if verdict.correct else 0.0)
    return outcomes


def _proposal_info(proposal: Proposal) -> dict[str, object]:
    return {"program": proposal.program, "inputs": list(proposal.inputs),
            "message": proposal.message}


def score_proposals(
    core: ScoringCore, items: Sequence[tuple[Episode, Proposal]], step: int
) -> list[tuple[int, Outcome]]:
    """Validate proposals, estimate learnability with the solver, add valid tasks to buffers."""
    if not items:
        return []
    validations: list[Validation] = validate_proposals(
        core.executor,
        [(core.task_type(e.task_type), p) for e, p in items],
        core.settings,
        determinism=core.config.determinism,
        step=step,
        long_outputs=core.config.long_outputs,
    )
    valid_tasks = [v.task for v in validations if v.valid and v.task is not None]
    attempts = iter(solve_attempts(core, valid_tasks))
    mode = core.config.rewards.mode
    out = []
    for i, ((episode, proposal), check) in enumerate(zip(items, validations, strict=True)):
        shown = _proposal_info(proposal)
        if check.infra:
            out.append((i, _infra(episode, check.detail, proposal=shown)))
            continue
        if not check.valid or check.task is None:
            breakdown = propose_reward(valid=False, outcomes=None, mode=mode, reason=check.reason)
            out.append((i, _scored(episode, breakdown, proposal=shown, detail=check.detail)))
            continue
        results = next(attempts)
        estimated = core.solver is not None
        if estimated and not results:
            out.append((i, _infra(episode, "no solver attempt could be judged", proposal=shown)))
            continue
        added = core.buffers[check.task.task_type].add(check.task)
        breakdown = propose_reward(valid=True, outcomes=results if estimated else None, mode=mode)
        out.append((i, _scored(
            episode, breakdown, proposal=shown, task=check.task.to_json(),
            learnability_estimated=estimated, added_to_buffer=added,
        )))
    return out
