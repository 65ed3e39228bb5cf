"""Per-task-type buffers of validated tasks: what proposers see as references and solvers solve.

Each buffer starts from the zero triplet (docs/concepts.md#one-self-play-step), keeps insertion
order (oldest first), drops duplicates (same normalised program and inputs; by default always,
with `dedup="seeding"` only while its owner marks the seeding phase), and is capped. All
randomness comes from a `numpy.random.Generator` the caller passes in, so the env's `np_random`
alone decides every draw. Buffers are saved as JSONL, one task a line, so a run can resume and a
buffer can be read or shared as a plain file.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from azr_env.errors import AZRConfigError
from azr_env.task import ABDUCTION, DEDUCTION, TASK_TYPES, Task

KEEP_MODES: tuple[str, ...] = ("newest", "oldest")
DEDUP_MODES: tuple[str, ...] = ("always", "seeding")
SEED_TRIPLETS: tuple[str, ...] = ("per_type", "shared")


@dataclass
class BufferConfig:
    """Buffer options (omegaconf-friendly); defaults are the paper's.

    - `cap`: the most tasks a buffer holds (paper Table 3: 16384 programs).
    - `keep`: which tasks survive when the buffer is full. `"newest"` (default) drops the oldest
      task for each new one, so the curriculum keeps moving; `"oldest"` rejects new tasks, as the
      reference code does (it truncates to the first `cap` entries).
    - `num_references`: K, the reference tasks shown to a deduction/abduction proposer.
    - `recent_window`: how many of the latest steps count as "recent" when picking solve tasks
      (the spec: the most recent step; the reference code uses a window of several steps).
    - `zero`: start each buffer from the zero triplet.
    - `dedup`: when a task equal to one already held is refused. `"always"` (default);
      `"seeding"`: only while the buffers are marked as seeding (`TaskBuffers.seeding`, which the
      trainer sets during its seeding rounds), as the reference de-duplicates only its seed set
      and appends every later valid proposal, repeats included.
    - `seed_triplets`: how the trainer's seeding rounds fill the deduction and abduction buffers.
      `"per_type"` (default): each from its own proposals. `"shared"`: as the reference, one
      triplet set for both (every valid proposal of either type goes into both buffers, in the
      same order), and induction is seeded only once that set is full, from its programs.
    """

    cap: int = 16384
    keep: str = "newest"
    num_references: int = 6
    recent_window: int = 1
    zero: bool = True
    dedup: str = "always"
    seed_triplets: str = "per_type"

    def validate(self) -> None:
        """Raise `AZRConfigError` naming the option to fix."""
        if isinstance(self.cap, bool) or not isinstance(self.cap, int) or self.cap < 1:
            raise AZRConfigError(f"buffer cap must be an int >= 1, got {self.cap!r}")
        if self.keep not in KEEP_MODES:
            raise AZRConfigError(
                f"buffer keep must be 'newest' (default: drop the oldest task when full) or "
                f"'oldest' (reference: refuse new tasks when full), got {self.keep!r}"
            )
        if not isinstance(self.num_references, int) or self.num_references < 0:
            raise AZRConfigError(
                f"num_references must be an int >= 0, got {self.num_references!r}"
            )
        if not isinstance(self.recent_window, int) or self.recent_window < 1:
            raise AZRConfigError(f"recent_window must be an int >= 1, got {self.recent_window!r}")
        if self.dedup not in DEDUP_MODES:
            raise AZRConfigError(
                f"buffer dedup must be 'always' (default) or 'seeding' (reference: only while "
                f"seeding), got {self.dedup!r}"
            )
        if self.seed_triplets not in SEED_TRIPLETS:
            raise AZRConfigError(
                f"buffer seed_triplets must be 'per_type' (default) or 'shared' (reference: one "
                f"triplet set for deduction and abduction), got {self.seed_triplets!r}"
            )


def _registered_seed_tasks(task_type: str) -> list[Task]:
    # Imported here: task types import buffers (their proposers read them), not the reverse.
    from azr_env.tasks import available_task_types, get_task_type

    if task_type not in available_task_types():
        raise AZRConfigError(
            f"no registered task type {task_type!r} to take seed tasks from: register it, or "
            "pass seed_tasks=... to its buffer"
        )
    return get_task_type(task_type).seed_tasks()


class TaskBuffer:
    """The tasks of one task type, oldest first, de-duplicated (see `BufferConfig.dedup`) and
    capped."""

    def __init__(
        self,
        task_type: str,
        config: BufferConfig | None = None,
        *,
        seed_tasks: Iterable[Task] | None = None,
    ) -> None:
        """Create a buffer; it starts from `seed_tasks`, else, if `config.zero`, from the
        registered task type's own `seed_tasks()` (the paper's types: the zero task).
        """
        self.task_type = task_type
        self.config = config if config is not None else BufferConfig()
        self.config.validate()
        self._tasks: list[Task] = []
        self._keys: Counter[str] = Counter()
        self.seeding = False
        """Whether the seeding phase is on (with `dedup="seeding"`, the only time duplicates
        are refused); set through `TaskBuffers.seeding`."""
        self.added = 0
        """Tasks stored so far, restored ones included (a running count: the last
        `added - before` tasks are the ones stored since the count was `before`, repeats
        included)."""
        if seed_tasks is not None:
            self.extend(seed_tasks)
        elif self.config.zero:
            self.extend(_registered_seed_tasks(task_type))

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(list(self._tasks))

    def __contains__(self, task: object) -> bool:
        return isinstance(task, Task) and self._keys[task.key] > 0

    def __repr__(self) -> str:
        return f"TaskBuffer({self.task_type!r}, size={len(self)}, cap={self.config.cap})"

    @property
    def tasks(self) -> tuple[Task, ...]:
        """A snapshot of the tasks, oldest first."""
        return tuple(self._tasks)

    def add(self, task: Task) -> bool:
        """Add one task; return whether it was stored (False: a duplicate refused, see
        `BufferConfig.dedup`, or full with keep="oldest")."""
        if task.task_type != self.task_type:
            raise AZRConfigError(
                f"cannot add a {task.task_type!r} task to the {self.task_type!r} buffer"
            )
        dedup = self.config.dedup == "always" or self.seeding
        if dedup and self._keys[task.key] > 0:
            return False
        if len(self._tasks) >= self.config.cap:
            if self.config.keep == "oldest":
                return False
            evicted = self._tasks.pop(0)
            self._keys[evicted.key] -= 1
        self._append(task)
        return True

    def _append(self, task: Task) -> None:
        self._tasks.append(task)
        self._keys[task.key] += 1
        self.added += 1

    def restore(self, tasks: Iterable[Task]) -> None:
        """Hold exactly `tasks` again (a snapshot from `tasks`), e.g. so that processes sharing
        a buffer can re-add one phase's new tasks in an order they all agree on (repeats kept,
        whatever `dedup` says: a snapshot already passed it)."""
        self._tasks = []
        self._keys = Counter()
        for task in tasks:
            self._append(task)

    def extend(self, tasks: Iterable[Task]) -> int:
        """Add tasks in order; return how many were stored."""
        return sum(self.add(t) for t in tasks)

    def needs_seeding(self, target: int) -> bool:
        """Whether the seeding phase must go on: fewer than `target` tasks held (spec: B x 4)."""
        return len(self._tasks) < target

    def sample_references(self, rng: np.random.Generator, k: int | None = None) -> list[Task]:
        """K distinct tasks drawn uniformly (all of them when the buffer holds fewer than K)."""
        k = self.config.num_references if k is None else k
        if k < 0:
            raise AZRConfigError(f"the number of references must be >= 0, got {k}")
        n = min(k, len(self._tasks))
        if n == 0:
            return []
        picks = rng.choice(len(self._tasks), size=n, replace=False)
        return [self._tasks[int(i)] for i in picks]

    def sample_solve(self, rng: np.random.Generator, n: int) -> list[Task]:
        """`n` tasks to solve: the latest step's additions first, then uniform over the buffer.

        Recent tasks (added within `recent_window` steps of the latest one) come first, in random
        order, sub-sampled without replacement if there are more than `n`. The rest is drawn
        uniformly from the whole buffer, with replacement only when the buffer is smaller than
        what is missing (the reference code crashes there).
        """
        if n < 0:
            raise AZRConfigError(f"the number of solve tasks must be >= 0, got {n}")
        if n == 0:
            return []
        if not self._tasks:
            raise AZRConfigError(
                f"the {self.task_type!r} buffer is empty: start it from the zero task "
                "(BufferConfig.zero=True) or load a saved buffer"
            )
        latest = max(t.step for t in self._tasks)
        threshold = latest - self.config.recent_window + 1
        recent = np.array(
            [i for i, t in enumerate(self._tasks) if t.step >= threshold], dtype=np.int64
        )
        if len(recent) >= n:
            chosen = rng.choice(recent, size=n, replace=False)
        else:
            missing = n - len(recent)
            fill = rng.choice(len(self._tasks), size=missing, replace=missing > len(self._tasks))
            chosen = np.concatenate([rng.permutation(recent), fill])
        return [self._tasks[int(i)] for i in chosen]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the buffer as JSONL (oldest first), atomically."""
        save_jsonl(self._tasks, path)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], task_type: str, config: BufferConfig | None = None
    ) -> TaskBuffer:
        """Read a buffer saved by `save` (no zero task is added: the file holds what was there)."""
        tasks = load_jsonl(path)
        wrong = {t.task_type for t in tasks} - {task_type}
        if wrong:
            raise AZRConfigError(
                f"{os.fspath(path)} holds {sorted(wrong)} tasks; load it with TaskBuffers.load "
                f"or pick the right task_type (asked for {task_type!r})"
            )
        return cls(task_type, config, seed_tasks=tasks)


class TaskBuffers:
    """One buffer per task type, sharing a config: the env's whole task memory."""

    def __init__(
        self,
        task_types: Sequence[str] = TASK_TYPES,
        config: BufferConfig | None = None,
        *,
        seed_tasks: Iterable[Task] | None = None,
    ) -> None:
        """Create the buffers; `seed_tasks` (e.g. loaded from a file) replace the zero tasks."""
        self._seeding = False
        if not task_types:
            raise AZRConfigError("TaskBuffers needs at least one task type")
        self.config = config if config is not None else BufferConfig()
        self.step: int | None = None
        """The self-play step new tasks are recorded at (`Task.step`, which decides what is
        "recent" for `sample_solve`). None: each env that adds tasks counts its own `step()`
        calls. A trainer that runs several envs on these buffers (one per group, plus seeding
        envs) sets it once per self-play step, so that every env records the same global step
        and a resumed run goes on counting from its checkpoint; seeding uses 0, after the zero
        tasks' -1."""
        if seed_tasks is None:
            self._buffers = {t: TaskBuffer(t, self.config) for t in task_types}
            return
        by_type: dict[str, list[Task]] = {t: [] for t in task_types}
        for task in seed_tasks:
            if task.task_type not in by_type:
                raise AZRConfigError(
                    f"task {task.id} has type {task.task_type!r}, not one of {list(task_types)}"
                )
            by_type[task.task_type].append(task)
        self._buffers = {t: TaskBuffer(t, self.config, seed_tasks=by_type[t]) for t in task_types}

    def __getitem__(self, task_type: str) -> TaskBuffer:
        try:
            return self._buffers[task_type]
        except KeyError:
            raise AZRConfigError(
                f"no buffer for task type {task_type!r}; known: {list(self._buffers)}"
            ) from None

    def __iter__(self) -> Iterator[TaskBuffer]:
        return iter(self._buffers.values())

    @property
    def seeding(self) -> bool:
        """Whether the owner is in its seeding phase (`BufferConfig.dedup="seeding"` refuses
        duplicates only then). The trainer sets it around its seeding rounds."""
        return self._seeding

    @seeding.setter
    def seeding(self, value: bool) -> None:
        self._seeding = bool(value)
        for buffer in self._buffers.values():
            buffer.seeding = self._seeding

    @property
    def task_types(self) -> tuple[str, ...]:
        return tuple(self._buffers)

    def sizes(self) -> dict[str, int]:
        """Tasks held per type (for logs)."""
        return {t: len(b) for t, b in self._buffers.items()}

    def needs_seeding(self, target: int) -> bool:
        """Whether any buffer still holds fewer than `target` tasks."""
        return any(b.needs_seeding(target) for b in self._buffers.values())

    def sample_programs(
        self,
        rng: np.random.Generator,
        k: int = 1,
        from_types: Sequence[str] = (DEDUCTION, ABDUCTION),
    ) -> list[Task]:
        """Up to `k` distinct tasks drawn uniformly from the union of `from_types` buffers.

        The induction proposer is shown one program from the deduction and abduction buffers
        together (docs/concepts.md#three-task-types-two-roles-six-groups); each task is equally
        likely, whichever buffer holds it.
        """
        pool = [task for t in from_types for task in self[t].tasks]
        n = min(k, len(pool))
        if n <= 0:
            return []
        return [pool[int(i)] for i in rng.choice(len(pool), size=n, replace=False)]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write every buffer into one JSONL file (grouped by type, oldest first), atomically."""
        save_jsonl([task for b in self._buffers.values() for task in b.tasks], path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        config: BufferConfig | None = None,
        task_types: Sequence[str] | None = None,
    ) -> TaskBuffers:
        """Read buffers saved by `save`; task types default to the file's (else the paper's)."""
        tasks = load_jsonl(path)
        if task_types is None:
            seen = list(dict.fromkeys(t.task_type for t in tasks))
            task_types = list(TASK_TYPES) + [t for t in seen if t not in TASK_TYPES]
        return cls(task_types, config, seed_tasks=tasks)


def save_jsonl(tasks: Iterable[Task], path: str | os.PathLike[str]) -> None:
    """Write tasks one JSON object a line; ASCII-escaped so any string (even lone surrogates)
    survives, and written to a temporary file first so a crash never leaves half a buffer."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with tmp.open("w", encoding="ascii") as fh:
        for task in tasks:
            fh.write(json.dumps(task.to_json(), ensure_ascii=True) + "\n")
    os.replace(tmp, target)


def load_jsonl(path: str | os.PathLike[str]) -> list[Task]:
    """Read tasks written by `save_jsonl` (or by hand); blank lines are skipped."""
    source = Path(path)
    if not source.is_file():
        raise AZRConfigError(f"no buffer file at {source}; check the path")
    tasks = []
    with source.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise AZRConfigError(f"{source}:{lineno}: not valid JSON ({exc.msg})") from None
            try:
                tasks.append(Task.from_json(data))
            except AZRConfigError as exc:
                raise AZRConfigError(f"{source}:{lineno}: {exc}") from None
    return tasks
