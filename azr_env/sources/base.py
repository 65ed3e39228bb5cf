"""The `TaskSource` interface: where solve tasks come from when no proposer writes them.

A source hands out *candidate* tasks by key, unvalidated: a program, its inputs and, when the
source knows them, the gold outputs. Keys give random access (reasoning-gym's `Random(seed +
idx)` idea): the same key always gives the same candidate, so any item of a dataset can be rebuilt
on its own. Turning candidates into validated `Task`s (running them in the sandbox, once) is the
job of `azr_env.sources.supply`, shared by every source.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from random import Random

from azr_env.errors import AZRConfigError


@dataclass(frozen=True)
class Candidate:
    """One task as a source states it, before the sandbox has run it.

    `outputs`, when given, are the source's gold outputs as Python expressions; validation checks
    them against what the program returns (by value) and refuses the task if they differ.
    `origin` names the item for people (`cruxeval/sample_3`, `generator/17`, `file.jsonl:4`).
    """

    task_type: str
    program: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...] | None = None
    message: str = ""
    origin: str = ""


class TaskSource(ABC):
    """Candidate tasks by key, for some task types.

    Subclasses set `name`, implement `size` and `candidate`, and may set `trusted` (the programs
    were written by this project or come from a curated benchmark, not from a model: they may be
    validated with `isolation="worker"`, which is many times faster), `prechecked` (every
    candidate passes the static checks by construction: no import, an entry `f` with parameters,
    inputs that parse; validation then only runs them) and `preload` (modules the sandbox must
    import before it drops privileges).
    """

    name: str = ""
    trusted: bool = False
    prechecked: bool = False
    preload: tuple[str, ...] = ()

    @property
    @abstractmethod
    def task_types(self) -> tuple[str, ...]:
        """The task types this source can pose."""

    @abstractmethod
    def size(self, task_type: str) -> int | None:
        """How many distinct keys `task_type` has (None: unbounded, any int >= 0 is a key)."""

    @abstractmethod
    def candidate(self, task_type: str, key: int) -> Candidate:
        """The candidate behind `key`: always the same one for the same key."""

    def check_type(self, task_type: str) -> None:
        """Raise `AZRConfigError` when this source cannot pose `task_type`."""
        if task_type not in self.task_types:
            raise AZRConfigError(
                f"the {self.name!r} source has no {task_type} tasks; it has {list(self.task_types)}"
            )

    def keys(self, task_type: str, seed: int) -> Iterator[int]:
        """The keys a dataset of `seed` visits, in order.

        Unbounded sources visit `seed, seed + 1, ...` (item `idx` is `Random(seed + idx)`, as in
        reasoning-gym); finite ones a permutation of their items shuffled by `seed`.
        """
        self.check_type(task_type)
        n = self.size(task_type)
        if n is None:
            key = seed
            while True:
                yield key
                key += 1
        order = list(range(n))
        Random(seed).shuffle(order)
        yield from order

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, task_types={list(self.task_types)})"
