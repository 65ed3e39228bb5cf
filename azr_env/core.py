"""`SelfPlayCore`: the shared machinery behind the single env and the vector env.

One core holds the executor, the buffers, the prompt format and the solver, and scores a whole
batch of completions at once: the single env calls it with a batch of one, the vector env with all
B sub-envs, so both compute exactly the same rewards. Posing (what a step shows) and scoring
(what a completion earns) are here; the Gymnasium plumbing (spaces, seeding, autoreset) is in
`env.py` and `vector.py`. Scoring a propose batch is four phases, each one call for the batch:
validate (one `run_batch`), ask the solver (one call for all B x n attempts), check the attempts
(one answer check per task type), add the valid tasks to the buffers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from azr_env.buffers import TaskBuffers
from azr_env.config import EnvConfig
from azr_env.episode import Episode, Outcome, outcome
from azr_env.errors import AZRConfigError
from azr_env.executor import Executor
from azr_env.executor.checks import OutputCheck, Verdict, check_outputs
from azr_env.formats import PROPOSE, SOLVE, get_format
from azr_env.prompt_cap import REDRAWS, PromptFits, fill_from, too_long
from azr_env.rewards import MALFORMED_REWARD
from azr_env.scoring import Solver, score_proposals, score_solutions
from azr_env.sources import TaskSource, TaskSupply
from azr_env.task import TASK_TYPES, Task
from azr_env.tasks import Proposal, ProposeContext, Rejection, TaskType, get_task_type
from azr_env.tasks.validation import validate_proposals

ROLES: tuple[str, ...] = (PROPOSE, SOLVE)


class SelfPlayCore:
    """Buffers, executor, format and solver, shared by every sub-env of a vector env."""

    def __init__(
        self,
        config: EnvConfig,
        *,
        executor: Executor | None = None,
        solver: Solver | None = None,
        buffers: TaskBuffers | None = None,
        task_types: Sequence[str] = TASK_TYPES,
        source: TaskSource | None = None,
    ) -> None:
        if solver is not None and not callable(solver):
            raise AZRConfigError(
                "solver must be a callable: list of prompts -> list of completions"
            )
        if executor is not None and not isinstance(executor, Executor):
            raise AZRConfigError("executor must be an azr_env.executor.Executor")
        if buffers is not None and not isinstance(buffers, TaskBuffers):
            raise AZRConfigError("buffers must be an azr_env.buffers.TaskBuffers")
        self.config = config
        self.settings = config.task_settings()
        self.format = get_format(config.format)
        self.types: dict[str, TaskType] = {name: get_task_type(name) for name in task_types}
        all_types = {name: get_task_type(name) for name in (*TASK_TYPES, *task_types)}
        self.owns_buffers = buffers is None
        if buffers is None:
            seeds = [t for tt in all_types.values() for t in tt.seed_tasks()] \
                if config.buffers.zero else []
            buffers = TaskBuffers(list(all_types), config.buffers, seed_tasks=seeds)
        missing = [name for name in all_types if name not in buffers.task_types]
        if missing:
            raise AZRConfigError(f"the buffers given have no buffer for {missing}")
        self.buffers = buffers
        self.solver = solver
        self.owns_executor = executor is None
        self._executor = executor if executor is not None else Executor(config.executor)
        self._gold: dict[str, Task] = {}
        self.source = source
        self._supply: TaskSupply | None = None
        self.warned_zero_only = False
        """Set once an env has warned that it poses only the zero task (see `env.py`)."""
        self.prompt_fits: PromptFits | None = None
        """The policy's prompt-length cap (see `azr_env.prompt_cap`); None poses any prompt."""

    @property
    def executor(self) -> Executor:
        """The executor, started on first use (an env that never runs code starts no process)."""
        if not self._executor.started:
            self._executor.start()
        return self._executor

    def close(self) -> None:
        """Stop the executor if this core started it (a shared one is left to its owner)."""
        if self.owns_executor:
            self._executor.close()

    # -- posing ------------------------------------------------------------------------------
    def task_type(self, name: str) -> TaskType:
        if name not in self.types:
            raise AZRConfigError(f"this env has no task type {name!r}; it has {list(self.types)}")
        return self.types[name]

    def pose_propose(self, task_type: str, rng: np.random.Generator) -> Episode:
        """A proposer's episode; with `prompt_fits` set, its references (or program) are drawn
        again until the prompt fits, then with one reference fewer at a time (`prompt_cap`)."""
        tt = self.task_type(task_type)
        shown = self.config.buffers.num_references
        for attempt in range(REDRAWS * (shown + 1)):
            context = tt.propose_context(self.buffers, rng, self.settings)
            keep = shown - attempt // REDRAWS
            if len(context.references) > keep:
                context = replace(context, references=context.references[:keep])
            prompt = self.format.propose_prompt(
                task_type, tt.propose_fields(context, self.settings)
            )
            if self.prompt_fits is None or self.prompt_fits(prompt):
                return Episode(task_type, PROPOSE, prompt, context=context)
        raise too_long(f"{task_type} proposer", REDRAWS * (shown + 1))

    def pose_solve(self, task: Task) -> Episode:
        tt = self.task_type(task.task_type)
        prompt = self.format.solve_prompt(task.task_type, tt.solve_fields(task))
        return Episode(task.task_type, SOLVE, prompt, task=task)

    def draw_solve_tasks(self, task_type: str, rng: np.random.Generator, n: int) -> list[Task]:
        """`n` tasks to solve, with gold values: from the task source when the env has one, else
        from the buffer, recent first (see `TaskBuffer.sample_solve`). With `prompt_fits` set,
        a task whose prompt is over the cap is replaced by a fitting one of the draw (or, when
        none fits, of uniform draws from the whole buffer)."""
        self.task_type(task_type)
        tasks = self._draw_solve(task_type, rng, n)
        if self.prompt_fits is None or not tasks:
            return tasks
        fits = [self._solve_fits(t) for t in tasks]
        pool = [t for t, ok in zip(tasks, fits, strict=True) if ok]
        for _ in range(REDRAWS if not pool else 0):
            drawn = self.supply.draw(task_type, rng, n) if self.source is not None else \
                self.with_gold(self.buffers[task_type].sample_references(rng, n))
            pool = [t for t in drawn if self._solve_fits(t)]
            if pool:
                break
        if not pool:
            raise too_long(f"{task_type} solve", REDRAWS + 1)
        return fill_from(tasks, fits, pool, rng)

    def _solve_fits(self, task: Task) -> bool:
        return self.prompt_fits is None or self.prompt_fits(self.pose_solve(task).prompt)

    def _draw_solve(self, task_type: str, rng: np.random.Generator, n: int) -> list[Task]:
        if self.source is not None:
            return self.supply.draw(task_type, rng, n)
        return self.with_gold(self.buffers[task_type].sample_solve(rng, n))

    @property
    def supply(self) -> TaskSupply:
        """The source's tasks, validated once each on this core's executor."""
        if self.source is None:
            raise AZRConfigError("this env has no task source (pass source=...)")
        if self._supply is None:
            self._supply = TaskSupply(self.source, self.executor, self.settings,
                                      determinism=self.config.determinism)
        return self._supply

    def with_gold(self, tasks: Sequence[Task]) -> list[Task]:
        """The tasks with value trees filled in, computing missing ones in the sandbox once.

        Tasks from proposals carry their trees; the zero triplets and hand-written buffer files
        do not, and must not be compared by text.
        """
        todo = list({t.id: t for t in tasks if t.encoded is None and t.id not in self._gold}
                    .values())
        if todo:
            items = [(get_task_type(t.task_type), Proposal(t.program, t.inputs, t.message))
                     for t in todo]
            results = validate_proposals(self.executor, items, self.settings,
                                         determinism=self.config.determinism)
            for task, done in zip(todo, results, strict=True):
                if done.infra:
                    raise RuntimeError(f"the sandbox failed computing gold values: {done.detail}")
                if not done.valid or done.task is None:
                    raise AZRConfigError(
                        f"buffer task {task.id} ({task.task_type}) is not a valid task: "
                        f"{done.reason} ({done.detail}); remove it from the buffer file"
                    )
                self._gold[task.id] = replace(task, encoded=done.task.encoded)
        return [self._gold.get(t.id, t) if t.encoded is None else t for t in tasks]

    def pose_task(self, spec: Mapping[str, Any], task_type: str) -> Task:
        """Validate a user's task (`reset(options={"task": ...})`) and compute its gold values.

        Raises `AZRConfigError` when the task is invalid or a given output is not what the
        program returns: a posed task is the user's input, not the model's.
        """
        return self.pose_tasks([spec], [task_type], ["options['task']"])[0]

    def pose_tasks(self, specs: Sequence[Any], task_types: Sequence[str],
                   labels: Sequence[str]) -> list[Task]:
        """`pose_task` for a batch (the vector env's `options["tasks"]`), validated together:
        one `run_batch` for all programs and one for all stated outputs. `labels` name each
        spec in error messages (`options['tasks'][2]`)."""
        parsed = [self._posed(spec, t, label)
                  for spec, t, label in zip(specs, task_types, labels, strict=True)]
        checked = validate_proposals(self.executor, [(tt, p) for tt, p, _, _ in parsed],
                                     self.settings, determinism=self.config.determinism)
        checks: list[tuple[str, OutputCheck]] = []
        tasks = []
        for (_, proposal, outputs, label), done in zip(parsed, checked, strict=True):
            if not done.valid or done.task is None:
                raise AZRConfigError(f"{label}: the posed task is not valid: {done.reason} "
                                     f"({done.detail})")
            tasks.append(done.task)
            if outputs is not None:
                checks.extend((label, OutputCheck(o, tree, shown, proposal.program)) for o, tree,
                              shown in zip(outputs, done.task.encoded, done.task.outputs,
                                           strict=True))
        verdicts = check_outputs(self.executor, [c for _, c in checks]) if checks else []
        for (label, check), verdict in zip(checks, verdicts, strict=True):
            if not verdict.correct:
                raise AZRConfigError(f"{label}: the posed output {check.prediction!r} is not what "
                                     f"the program returns ({check.gold_repr})")
        return tasks

    def _posed(self, spec: Any, task_type: str,
               where: str) -> tuple[TaskType, Proposal, list[str] | None, str]:
        """The parts of one posed task spec, checked for shape (nothing runs here)."""
        if not isinstance(spec, Mapping):
            raise AZRConfigError(f"{where} must be a dict with program and input(s)")
        tt = self.task_type(str(spec.get("task_type", task_type)))
        # `id`, `step` and `encoded` (as in `info["task"]`) are accepted and recomputed, so a task
        # from a step's info can be posed again as it is.
        unknown = sorted(set(spec) - {"task_type", "program", "input", "inputs", "output",
                                      "outputs", "message", "id", "step", "encoded"})
        if unknown:
            raise AZRConfigError(f"{where} has unknown key(s) {unknown}")
        program = spec.get("program")
        inputs = spec.get("inputs", [spec["input"]] if "input" in spec else None)
        outputs = spec.get("outputs", [spec["output"]] if "output" in spec else None)
        if not isinstance(program, str) or not isinstance(inputs, (list, tuple)) or not inputs \
                or not all(isinstance(x, str) for x in inputs):
            raise AZRConfigError(
                f"{where} needs 'program' (source text) and 'input' (one argument string) "
                "or 'inputs' (a list of them)"
            )
        if outputs is not None and (
            not isinstance(outputs, (list, tuple)) or len(outputs) != len(inputs)
            or not all(isinstance(x, str) for x in outputs)
        ):
            raise AZRConfigError(f"{where} outputs must be one repr string per input")
        proposal = Proposal(program, tuple(inputs), str(spec.get("message", "")))
        return tt, proposal, list(outputs) if outputs is not None else None, where

    # -- scoring -----------------------------------------------------------------------------
    def _answer_of(self, episode: Episode, action: Any) -> tuple[str | None, Outcome | None]:
        """The answer part of an action, or the penalty outcome for a malformed one."""
        if not isinstance(action, str):
            return None, outcome(episode, MALFORMED_REWARD, "not_text")
        if len(action) > self.config.max_completion_chars:
            return None, outcome(episode, MALFORMED_REWARD, "completion_too_long")
        answer = self.format.extract(action, episode.task_type, episode.role)
        if answer is None:
            return None, outcome(episode, MALFORMED_REWARD, "no_answer")
        return answer, None

    def score(
        self, episodes: Sequence[Episode], actions: Sequence[Any], step: int
    ) -> list[Outcome]:
        """Rewards and infos of one batch of completions (any mix of groups), in order.

        `step` is the calling env's own step count; valid proposals are recorded at
        `buffers.step` instead when the owner of the buffers set one (a global self-play step).
        """
        if self.buffers.step is not None:
            step = self.buffers.step
        outcomes: list[Outcome | None] = [None] * len(episodes)
        solve: list[tuple[int, str]] = []
        propose: list[tuple[int, Proposal]] = []
        for i, (episode, action) in enumerate(zip(episodes, actions, strict=True)):
            answer, failed = self._answer_of(episode, action)
            if failed is not None or answer is None:
                outcomes[i] = failed
                continue
            tt = self.task_type(episode.task_type)
            if episode.role == SOLVE:
                parsed = tt.parse_answer(self.format, answer)
                if parsed is None:
                    reason = f"no_{tt.answer_kind}_block"
                    outcomes[i] = outcome(episode, MALFORMED_REWARD, reason)
                else:
                    solve.append((i, parsed))
                continue
            context = episode.context or ProposeContext()
            got = tt.parse_proposal(self.format, answer, context, self.settings)
            if isinstance(got, Rejection):
                outcomes[i] = outcome(episode, MALFORMED_REWARD, got.reason,
                                       detail=got.detail)
            else:
                propose.append((i, got))
        for i, scored in score_solutions(self, [(episodes[i], a) for i, a in solve]):
            outcomes[solve[i][0]] = scored
        for i, scored in score_proposals(self, [(episodes[i], p) for i, p in propose], step):
            outcomes[propose[i][0]] = scored
        return [o if o is not None else Outcome(0.0, {}) for o in outcomes]

    def check(self, pairs: Sequence[tuple[Task, str]]) -> list[Verdict]:
        """Judge parsed answers of any task types, one batched check per type, in order."""
        verdicts: list[Verdict | None] = [None] * len(pairs)
        for name in dict.fromkeys(t.task_type for t, _ in pairs):
            idx = [i for i, (t, _) in enumerate(pairs) if t.task_type == name]
            tasks = self.with_gold([pairs[i][0] for i in idx])
            tt = self.task_type(name)
            answers = [tt.answer_to_check(task, pairs[i][1], self.settings)
                       for task, i in zip(tasks, idx, strict=True)]
            got = tt.check_answers(self.executor, tasks, answers)
            for i, verdict in zip(idx, got, strict=True):
                verdicts[i] = verdict
        return [v if v is not None else Verdict(False, "infra", infra=True) for v in verdicts]


