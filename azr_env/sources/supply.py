"""`TaskSupply`: a source's candidates validated in the sandbox once each, then served from memory.

Validation is the env's own (`validate_proposals`: static checks, then `f(input)` twice in the
sandbox), batched into one `run_batch` per call; gold outputs a source states are then checked
against the computed values in one more batch. A candidate that fails is skipped (and remembered
as failed), never posed: a source's bad item is the source's problem, not the solver's. Each key
is validated at most once per supply, so scoring many answers to one task never re-runs it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from azr_env.errors import AZRConfigError
from azr_env.executor import Executor
from azr_env.executor.checks import OutputCheck, check_outputs
from azr_env.sources.base import Candidate, TaskSource
from azr_env.task import Task
from azr_env.tasks import Proposal, TaskSettings, get_task_type
from azr_env.tasks.validation import validate_proposals

MAX_DRAW_ROUNDS = 20
"""Rounds of redrawing for candidates that fail validation before a source is declared broken."""


@dataclass(frozen=True)
class Supplied:
    """A validated candidate: its `task` when valid, else the reason it was skipped."""

    key: int
    candidate: Candidate
    task: Task | None
    reason: str = "valid"
    detail: str | None = None


class TaskSupply:
    """Validated tasks of one source, computed on demand and cached by (task type, key)."""

    def __init__(
        self,
        source: TaskSource,
        executor: Executor,
        settings: TaskSettings | None = None,
        *,
        determinism: str = "same_process",
    ) -> None:
        self.source = source
        self.executor = executor
        self.settings = settings or TaskSettings()
        self.determinism = determinism
        self._done: dict[tuple[str, int], Supplied] = {}

    def validate(self, task_type: str, keys: Sequence[int]) -> list[Supplied]:
        """The validated candidates of `keys`, in order; new ones in one sandbox batch."""
        self.source.check_type(task_type)
        todo = list(dict.fromkeys(k for k in keys if (task_type, k) not in self._done))
        if todo:
            candidates = [self.source.candidate(task_type, k) for k in todo]
            for done in self._run(todo, candidates):
                self._done[(task_type, done.key)] = done
        return [self._done[(task_type, k)] for k in keys]

    def _run(self, keys: list[int], candidates: list[Candidate]) -> list[Supplied]:
        items = [(get_task_type(c.task_type), Proposal(c.program, c.inputs, c.message))
                 for c in candidates]
        checked = validate_proposals(self.executor, items, self.settings,
                                     determinism=self.determinism,
                                     static=not self.source.prechecked)
        out: list[Supplied] = []
        stated: list[tuple[int, OutputCheck]] = []
        for i, (candidate, done) in enumerate(zip(candidates, checked, strict=True)):
            if done.infra:
                raise RuntimeError(
                    f"the sandbox failed validating {candidate.origin}: {done.detail}"
                )
            out.append(Supplied(keys[i], candidate, done.task, done.reason, done.detail))
            if done.task is not None and candidate.outputs is not None:
                task = done.task
                stated.extend((i, OutputCheck(given, tree, shown, candidate.program)) for
                              given, tree, shown in zip(candidate.outputs, task.encoded,
                                                        task.outputs, strict=True))
        verdicts = check_outputs(self.executor, [c for _, c in stated]) if stated else []
        for (i, check), verdict in zip(stated, verdicts, strict=True):
            if verdict.infra:
                raise RuntimeError(f"the sandbox failed checking {candidates[i].origin}")
            if not verdict.correct and out[i].task is not None:
                out[i] = Supplied(
                    keys[i],
                    candidates[i],
                    None,
                    "stated_output_differs",
                    f"stated {check.prediction!r}, the program returns {check.gold_repr}",
                )
        return out

    def skipped(self, task_type: str) -> dict[str, int]:
        """How many candidates of `task_type` validation refused so far, by reason."""
        counts: dict[str, int] = {}
        for (kind, _), done in self._done.items():
            if kind == task_type and done.task is None:
                counts[done.reason] = counts.get(done.reason, 0) + 1
        return counts

    def draw(self, task_type: str, rng: np.random.Generator, n: int) -> list[Task]:
        """`n` valid tasks at keys drawn with `rng`: uniform, and without repeats while a finite
        source has enough valid items (the paper's batch has no repeated task)."""
        self.source.check_type(task_type)
        size = self.source.size(task_type)
        if size == 0:
            raise AZRConfigError(f"the {self.source.name!r} source has no {task_type} task")
        found: list[Task] = []
        tried: set[int] = set()
        for _ in range(MAX_DRAW_ROUNDS):
            need = n - len(found)
            if size is None:
                keys = [int(k) for k in rng.integers(0, 2**31 - 1, size=need)]
            else:
                left = np.array(sorted(set(range(size)) - tried) if len(tried) < size
                                else range(size), dtype=np.int64)
                keys = [int(k) for k in rng.choice(left, size=need, replace=need > len(left))]
            tried.update(keys)
            found.extend(s.task for s in self.validate(task_type, keys) if s.task is not None)
            if len(found) == n:
                return found
        raise AZRConfigError(
            f"the {self.source.name!r} source gave no valid {task_type} task in "
            f"{MAX_DRAW_ROUNDS} rounds of draws; check its tasks with TaskSupply.validate"
        )

    def take(self, task_type: str, seed: int, n: int, *, chunk: int = 256) -> list[Supplied]:
        """The first `n` valid candidates in the order `source.keys(task_type, seed)` visits.

        Validates in batches of at most `chunk`. Raises when a finite source runs out first.
        """
        keys: Iterator[int] = self.source.keys(task_type, seed)
        found: list[Supplied] = []
        seen = 0
        while len(found) < n:
            need = n - len(found)
            # A little over what is missing, so one batch usually covers the few invalid ones.
            batch = [k for _, k in zip(range(min(chunk, need + need // 8 + 2)), keys, strict=False)]
            if not batch:
                raise AZRConfigError(
                    f"the {self.source.name!r} source has only {len(found)} valid {task_type} "
                    f"tasks of {seen}; ask for at most that many"
                )
            seen += len(batch)
            found.extend(s for s in self.validate(task_type, batch) if s.task is not None)
        return found[:n]
