"""Solve tasks as a dataset, and batched scoring: azr's tasks and rewards for any trainer.

`create_dataset(task_type, size, seed, source=..., format=...)` validates `size` tasks from a
task source (once each, in the sandbox) and renders each one's solve prompt with the chosen
prompt format. Each row is a plain dict: `prompt`, `task_type`, `task_id`, `origin` (where the
task came from), `format`, and `task` (the whole validated task as JSON text, gold values
included, so a row can be scored anywhere without re-running its program). `TaskDataset.to_hf()`
gives a `datasets.Dataset` when that package is installed.

`score(rows, completions)` scores a batch of completions against their rows exactly as the env's
solve step does (1 correct, -0.5 wrong, -1 malformed; docs/concepts.md#rewards), in one parallel
pass through the sandbox per task type; `judge` returns the per-answer reason too. No torch here.
"""

from __future__ import annotations

import atexit
import json
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from azr_env.config import EnvConfig, build_config
from azr_env.core import SelfPlayCore
from azr_env.episode import Episode
from azr_env.errors import AZRConfigError
from azr_env.executor import Executor, Verdict
from azr_env.formats import SOLVE, fenced, get_format
from azr_env.sources import SourceSpec, TaskSupply, source_for
from azr_env.task import TASK_TYPES, Task
from azr_env.tasks import get_task_type


@dataclass
class TaskDataset(Sequence[dict[str, Any]]):
    """Rows of solve tasks with their prompts; a plain sequence of dicts."""

    rows: list[dict[str, Any]]
    task_type: str
    source: str
    seed: int
    format: str
    skipped: dict[str, int] = field(default_factory=dict)
    """Candidates the source gave that failed validation, by reason (never in `rows`)."""

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: Any) -> Any:
        return self.rows[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def tasks(self) -> list[Task]:
        """The validated `Task` of every row."""
        return [task_of(row) for row in self.rows]

    def to_hf(self) -> Any:
        """A `datasets.Dataset` of the rows (needs `pip install datasets`)."""
        try:
            import datasets
        except ImportError:
            raise AZRConfigError(
                "TaskDataset.to_hf needs the 'datasets' package: pip install datasets "
                "(or pip install 'azr[trl]')"
            ) from None
        return datasets.Dataset.from_list(self.rows)


def task_of(row: Mapping[str, Any]) -> Task:
    """The `Task` a dataset row holds (its `task` column, JSON text or a dict)."""
    data = row.get("task") if isinstance(row, Mapping) else None
    if isinstance(data, str):
        data = json.loads(data)
    if not isinstance(data, Mapping):
        raise AZRConfigError("a row needs a 'task' column (as create_dataset writes it)")
    return Task.from_json(data)


def _executor_for(source_preload: Sequence[str], trusted: bool, config: EnvConfig) -> Executor:
    """A validation executor: `worker` isolation for trusted sources (our generator, curated
    benchmarks: many times faster), a fresh process per job for anything else."""
    settings = replace(config.executor,
                       isolation="worker" if trusted else config.executor.isolation,
                       preload=[*config.executor.preload,
                                *(m for m in source_preload if m not in config.executor.preload)])
    with warnings.catch_warnings():
        # The executor warns that worker isolation is for trusted code: that is why it is chosen.
        warnings.simplefilter("ignore", UserWarning)
        return Executor(settings)


def create_dataset(
    task_type: str,
    size: int,
    seed: int = 0,
    *,
    source: SourceSpec = "generator",
    format: str | None = None,
    config: EnvConfig | Mapping[str, Any] | None = None,
    executor: Executor | None = None,
) -> TaskDataset:
    """`size` validated solve tasks of `task_type` from `source`, prompts rendered by `format`.

    Deterministic: the same arguments give the same rows (row `idx` of the generator is its
    `Random(seed + idx)` program; a finite source is visited in an order shuffled by `seed`).
    Candidates that fail validation are skipped and counted in `skipped`. `config` supplies the
    env options that matter here (banned modules, `induction_inputs`, executor limits); the
    validation runs on `executor` if given, else on one started for this call.
    """
    get_task_type(task_type)  # raises, naming the registered types, when unknown
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise AZRConfigError(f"size must be an int >= 1, got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise AZRConfigError(f"seed must be an int, got {seed!r}")
    env_config = build_config(config, {"format": format} if format is not None else {})
    task_source = source_for(source, env_config.induction_inputs)
    task_source.check_type(task_type)
    own = executor is None
    ex = executor or _executor_for(task_source.preload, task_source.trusted, env_config)
    try:
        if not ex.started:
            ex.start()
        supply = TaskSupply(task_source, ex, env_config.task_settings(),
                            determinism=env_config.determinism)
        found = supply.take(task_type, seed, size)
        skipped = supply.skipped(task_type)
    finally:
        if own:
            ex.close()
    fmt = get_format(env_config.format)
    tt = get_task_type(task_type)
    rows = []
    for done in found:
        assert done.task is not None
        task = done.task
        rows.append({
            "prompt": fmt.solve_prompt(task_type, tt.solve_fields(task)),
            "task_type": task_type,
            "task_id": task.id,
            "origin": done.candidate.origin,
            "format": env_config.format,
            "task": json.dumps(task.to_json(), ensure_ascii=True),
        })
    return TaskDataset(rows, task_type, task_source.name, seed, env_config.format, skipped)


def reference_answer(row: Mapping[str, Any]) -> str:
    """The gold answer of a row as the fenced block a solver writes inside its answer.

    Deduction: the output; abduction: the input; induction: the program. Wrap it as the row's
    format expects (r1: `<answer>...</answer>`) to get a completion that scores 1.
    """
    task = task_of(row)
    kind = get_task_type(task.task_type).answer_kind
    gold = {"output": task.output, "input": task.input, "python": task.program}.get(kind)
    if gold is None:
        raise AZRConfigError(f"no reference answer for task type {task.task_type!r}")
    return fenced(kind, gold)


@dataclass(frozen=True)
class Judgement:
    """One scored completion: the env's solve reward and why.

    `reason` is the env's (`correct`, `wrong_value`, `no_answer`, `no_output_block`, ...);
    `infra` means the sandbox failed and the answer was not judged (its reward is NaN).
    """

    reward: float
    reason: str
    correct: bool
    answer: str | None = None
    detail: str | None = None
    infra: bool = False


def completion_text(completion: Any) -> Any:
    """The text of a completion: a string as is, or the last message's content of a chat
    completion (`[{"role": "assistant", "content": ...}]`, TRL's conversational format)."""
    if isinstance(completion, list) and completion and isinstance(completion[-1], Mapping):
        return completion[-1].get("content")
    return completion


class Scorer:
    """Scores completions against dataset rows in the sandbox, a whole batch per call.

    Holds one executor (a fresh process per job: completions are untrusted) and the parsed tasks
    of rows already seen, so a task is read once however many answers it gets; within a batch,
    completions that reach the same answer to the same task are judged once. Use it as a
    context manager, or call `close()`; `azr_env.dataset.score` keeps one per format for you.
    """

    def __init__(self, format: str = "r1", *, executor: Executor | None = None,
                 config: EnvConfig | Mapping[str, Any] | None = None) -> None:
        self.config = build_config(config, {"format": format})
        self.core = SelfPlayCore(self.config, executor=executor, task_types=TASK_TYPES)
        self._tasks: dict[str, Task] = {}

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the executor if this scorer started it."""
        self.core.close()

    def _task(self, row: Mapping[str, Any]) -> Task:
        text = row.get("task") if isinstance(row, Mapping) else None
        key = text if isinstance(text, str) else json.dumps(text, sort_keys=True)
        task = self._tasks.get(key)
        if task is None:
            task = self._tasks[key] = task_of(row)
            if task.task_type not in self.core.types:
                self.core.types[task.task_type] = get_task_type(task.task_type)
        return task

    def judge(
        self, rows: Sequence[Mapping[str, Any]], completions: Sequence[Any]
    ) -> list[Judgement]:
        """Score each completion against its row; one `Judgement` each, in order."""
        if len(rows) != len(completions):
            raise AZRConfigError(f"{len(rows)} rows but {len(completions)} completions: "
                                 "give one completion per row")
        for row in rows:
            fmt = row.get("format", self.config.format) if isinstance(row, Mapping) else None
            if fmt != self.config.format:
                raise AZRConfigError(f"a row was rendered in format {fmt!r}, this scorer parses "
                                     f"{self.config.format!r}; use Scorer(format={fmt!r})")
        tasks = [self._task(row) for row in rows]
        texts = [completion_text(c) for c in completions]
        # Score each distinct (task, parsed answer) once: in a GRPO group many completions reach
        # the same answer, and a well-formed answer's reward depends on nothing else.
        first: dict[tuple[str, str, str], int] = {}
        same_as = list(range(len(texts)))
        for i, (task, text) in enumerate(zip(tasks, texts, strict=True)):
            parsed = self._parsed(task, text)
            if parsed is not None:
                same_as[i] = first.setdefault((task.task_type, task.id, parsed), i)
        unique = sorted(set(same_as))
        scored = self.core.score([Episode(tasks[i].task_type, SOLVE, "", task=tasks[i])
                                  for i in unique], [texts[i] for i in unique], 0)
        by_index = dict(zip(unique, scored, strict=True))
        out = []
        for outcome in (by_index[same_as[i]] for i in range(len(texts))):
            info = outcome.info
            infra = bool(info.get("infra"))
            out.append(Judgement(
                reward=math.nan if infra else float(outcome.reward),
                reason=str(info.get("reason")),
                correct=info.get("reason") == "correct",
                answer=info.get("answer"),
                detail=info.get("detail"),
                infra=infra,
            ))
        return out

    def prompt(self, task: Task) -> str:
        """The solve prompt of `task` in this scorer's format, exactly as the env poses it."""
        return self.core.pose_solve(task).prompt

    def parse(self, task_type: str, completion: str) -> str | None:
        """The answer of a solve completion as the env parses it (None: malformed)."""
        answer = self.core.format.extract(completion, task_type, SOLVE)
        if answer is None:
            return None
        return self.core.task_type(task_type).parse_answer(self.core.format, answer)

    def check(self, pairs: Sequence[tuple[Task, str]]) -> list[Verdict]:
        """Judge parsed answers (from `parse`) against their tasks in the sandbox, in order:
        the env's own check, one batch per task type."""
        return self.core.check(pairs)

    def _parsed(self, task: Task, text: Any) -> str | None:
        """The parsed answer as `SelfPlayCore.score` reads it (None: malformed or too long)."""
        if not isinstance(text, str) or len(text) > self.config.max_completion_chars:
            return None
        answer = self.core.format.extract_answer(text)
        if answer is None:
            return None
        return self.core.task_type(task.task_type).parse_answer(self.core.format, answer)

    def score(self, rows: Sequence[Mapping[str, Any]], completions: Sequence[Any]) -> list[float]:
        """The env's solve reward of each completion (NaN where the sandbox failed)."""
        return [j.reward for j in self.judge(rows, completions)]


_SCORERS: dict[str, Scorer] = {}


def _scorer(rows: Sequence[Mapping[str, Any]], format: str | None) -> Scorer:
    if format is None:
        found = {row.get("format", "r1") for row in rows if isinstance(row, Mapping)}
        if len(found) > 1:
            raise AZRConfigError(f"rows of several formats {sorted(found)}: score them apart")
        format = found.pop() if found else "r1"
    if format not in _SCORERS:
        if not _SCORERS:
            atexit.register(_close_scorers)
        _SCORERS[format] = Scorer(format)
    return _SCORERS[format]


def _close_scorers() -> None:
    for scorer in _SCORERS.values():
        scorer.close()
    _SCORERS.clear()


def judge(rows: Sequence[Mapping[str, Any]], completions: Sequence[Any], *,
          format: str | None = None) -> list[Judgement]:
    """`Scorer.judge` on a shared scorer for the rows' format (started once, closed at exit)."""
    return _scorer(rows, format).judge(rows, completions)


def score(rows: Sequence[Mapping[str, Any]], completions: Sequence[Any], *,
          format: str | None = None) -> list[float]:
    """The env's solve reward of each completion against its row, scored in one batch.

    1.0 correct, -0.5 wrong, -1.0 malformed (no answer, no fenced block); NaN where the sandbox
    failed. `judge` gives the reasons too.
    """
    return [j.reward for j in judge(rows, completions, format=format)]


__all__ = ["Judgement", "Scorer", "TaskDataset", "completion_text", "create_dataset", "judge",
           "reference_answer", "score", "task_of"]
