"""Evaluation suites: CRUXEval-O (deduction), CRUXEval-I (abduction) and HumanEval.

A suite loads its problems from the data shipped in `azr_env/data/` (nothing is downloaded),
builds the prompt the policy sees, extracts the answer from a completion, and scores answers in
the sandbox. The CRUXEval suites pose each problem as a deduction or abduction solve task through
`azr_env.dataset.Scorer` (the env's own posing and answer check), so the evaluated prompt, answer
parsing and answer check are exactly the training ones. No model text is ever evaluated outside the
executor.
"""

from __future__ import annotations

import ast
import gzip
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from azr_agents.errors import AZRConfigError
from azr_agents.evaluation.cruxeval_format import call_arguments
from azr_env.dataset import Scorer
from azr_env.executor import DEFAULT_PRELOAD, CallJob, EvalJob, Executor
from azr_env.formats import PromptFormat, fenced, get_format
from azr_env.task import ABDUCTION, DEDUCTION, Task

SUITES = ("cruxeval-o", "cruxeval-i", "humaneval")

CRUXEVAL_CODECS = ("encodings.shift_jis", "encodings.rot_13", "encodings.utf_8")
"""Codecs looked up by name in CRUXEval programs, preloaded so that they load even in a sandbox
without a private root, whose uid may not read the Python install (see `ExecutorConfig.preload`)."""


@dataclass(frozen=True)
class Problem:
    """One benchmark item: its id (e.g. `sample_3`, `HumanEval/0`) and its raw record."""

    id: str
    data: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class Judged:
    """The verdict on one answer. `infra`: the sandbox failed, the answer was not judged."""

    correct: bool
    reason: str | None = None
    infra: bool = False


def _read_jsonl(package_path: str, *, gz: bool = False) -> list[dict[str, Any]]:
    raw = files("azr_env").joinpath(package_path).read_bytes()
    text = gzip.decompress(raw).decode("utf-8") if gz else raw.decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Suite(ABC):
    """A benchmark: problems, prompts, answer extraction, scoring (batched, in the sandbox)."""

    name: str = ""

    def __init__(self, fmt: str = "r1") -> None:
        self.format: PromptFormat = get_format(fmt)
        self.format_name = fmt
        self._problems: list[Problem] | None = None

    @abstractmethod
    def load(self) -> list[Problem]:
        """Every problem of the suite, in the dataset's order."""

    def problems(self, limit: int | None = None) -> list[Problem]:
        """The first `limit` problems (all when None): `--limit` keeps runs comparable."""
        if self._problems is None:
            self._problems = self.load()
        return self._problems if limit is None else self._problems[:limit]

    def preload(self) -> list[str]:
        """Modules the sandbox must import before dropping privileges (see `ExecutorConfig`)."""
        return list(DEFAULT_PRELOAD)

    def prepare(self, executor: Executor, problems: Sequence[Problem]) -> None:  # noqa: B027
        """Compute what scoring needs once (gold values); the default needs nothing."""

    @abstractmethod
    def prompt(self, problem: Problem) -> str:
        """The full prompt the policy continues."""

    @abstractmethod
    def answer_of(self, completion: str) -> str | None:
        """The answer inside a model completion; None when it is malformed (scored wrong)."""

    def prediction(self, text: str) -> str:
        """A prediction from a generations file, as `score` takes it (already an answer)."""
        return text

    @abstractmethod
    def score(self, executor: Executor,
              items: Sequence[tuple[Problem, str | None]]) -> list[Judged]:
        """Judge answers (None = malformed), one batch through the executor, in order."""


class CruxEvalSuite(Suite):
    """CRUXEval-O (`deduction`: predict the output) or CRUXEval-I (`abduction`: find an input).

    Gold values are the dataset's `output` texts evaluated in the sandbox in the program's
    namespace (as CRUXEval's `assert <output> == ...` does), then compared as values.
    """

    def __init__(self, task_type: str, fmt: str = "r1") -> None:
        super().__init__(fmt)
        self.task_type = task_type
        self.name = "cruxeval-o" if task_type == DEDUCTION else "cruxeval-i"
        self._tasks: dict[str, Task] = {}
        self._scorer: Scorer | None = None
        self._scorer_executor: Executor | None = None

    def load(self) -> list[Problem]:
        return [Problem(row["id"], row) for row in _read_jsonl("data/cruxeval/cruxeval.jsonl")]

    def preload(self) -> list[str]:
        """The default modules plus the codecs CRUXEval programs name (`'shift_jis'`, ...)."""
        return [*DEFAULT_PRELOAD, *CRUXEVAL_CODECS]

    def scorer(self, executor: Executor | None = None) -> Scorer:
        """The env's scorer on `executor`: posing and checking exactly as in training."""
        if self._scorer is None or (executor is not None
                                    and executor is not self._scorer_executor):
            self._scorer = Scorer(self.format_name, executor=executor)
            self._scorer_executor = executor
        return self._scorer

    def _task(self, problem: Problem, encoded: Any = None) -> Task:
        row = problem.data
        return Task(task_type=self.task_type, program=row["code"], inputs=(row["input"],),
                    outputs=(row["output"],), encoded=encoded, id=problem.id)

    def prepare(self, executor: Executor, problems: Sequence[Problem]) -> None:
        todo = [p for p in problems if p.id not in self._tasks]
        results = executor.run_batch([EvalJob(p.data["output"], p.data["code"]) for p in todo])
        for problem, result in zip(todo, results, strict=True):
            if not result.ok:
                raise RuntimeError(
                    f"{self.name}: the gold output of {problem.id} did not evaluate in the "
                    f"sandbox ({result.status}: {result.error})"
                )
            self._tasks[problem.id] = self._task(problem, [result.encoded])

    def prompt(self, problem: Problem) -> str:
        task = self._tasks.get(problem.id) or self._task(problem)
        return self.scorer().prompt(task)

    def answer_of(self, completion: str) -> str | None:
        return self.scorer().parse(self.task_type, completion)

    def prediction(self, text: str) -> str:
        return call_arguments(text) if self.task_type == ABDUCTION else text

    def score(self, executor: Executor,
              items: Sequence[tuple[Problem, str | None]]) -> list[Judged]:
        self.prepare(executor, [p for p, _ in items])
        verdicts: list[Judged | None] = [None] * len(items)
        pairs: list[tuple[Task, str]] = []
        where: list[int] = []
        for i, (problem, answer) in enumerate(items):
            if answer is None:
                verdicts[i] = Judged(False, "malformed")
            elif self.task_type == DEDUCTION and calls_program(answer, problem.data["code"]):
                verdicts[i] = Judged(False, "calls_program")
            else:
                pairs.append((self._tasks[problem.id], answer))
                where.append(i)
        checked = self.scorer(executor).check(pairs) if pairs else []
        for i, verdict in zip(where, checked, strict=True):
            verdicts[i] = Judged(verdict.correct, None if verdict.correct else verdict.reason,
                                 verdict.infra)
        return [v if v is not None else Judged(False, "infra", True) for v in verdicts]


def calls_program(prediction: str, program: str) -> bool:
    """Whether an output prediction calls a function the program defines (e.g. `f(<input>)`).

    Such an answer makes the sandbox compute the output instead of predicting it. CRUXEval's
    scorer rejects the literal text `f(<input>)`; we reject any call of the program's functions.
    Constructors of the program's classes stay allowed (they may be needed to write a value).
    """
    try:
        defined = {node.name for node in ast.parse(program).body
                   if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        tree = ast.parse(prediction.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
               and node.func.id in defined for node in ast.walk(tree))


_HUMANEVAL_TASK = """\
# Task: Complete the Python Function
Complete the following Python function so that it passes its hidden tests. Think step by step, \
then write the complete function (its signature, body and any imports it needs) in ```python``` \
tags.

# Function:
{function}
"""


class HumanEvalSuite(Suite):
    """HumanEval: pass when prompt + completion + test + `check(entry_point)` runs clean.

    A completion that defines the entry function at top level (what a chat model writes) is run
    after the prompt with the prompt's own function stubbed, so that the prompt's imports and
    helpers stay defined; any other completion is a continuation of the prompt (human-eval's
    convention, and the canonical solutions').
    """

    name = "humaneval"

    def load(self) -> list[Problem]:
        rows = _read_jsonl("data/humaneval/HumanEval.jsonl.gz", gz=True)
        return [Problem(row["task_id"], row) for row in rows]

    def preload(self) -> list[str]:
        """The default modules plus what the prompts, tests and canonical solutions import.

        HumanEval/162 imports `hashlib` inside its function: a module the sandbox cannot import
        once it has dropped privileges unless it is preloaded.
        """
        modules = set(DEFAULT_PRELOAD)
        for problem in self.problems():
            row = problem.data
            for text in (row["prompt"] + row["canonical_solution"], row["test"]):
                for node in ast.walk(ast.parse(text)):
                    if isinstance(node, ast.Import):
                        modules.update(alias.name for alias in node.names)
                    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                        modules.add(node.module)
        return sorted(modules)

    def prompt(self, problem: Problem) -> str:
        function = fenced("python", problem.data["prompt"].rstrip())
        return self.format.wrap(_HUMANEVAL_TASK.format(function=function))

    def answer_of(self, completion: str) -> str | None:
        return self.format.parse(completion, "python")

    @staticmethod
    def program(problem: Problem, completion: str) -> str:
        """The text run in the sandbox: solution, tests, and an entry `f` that runs the check."""
        row = problem.data
        prompt = row["prompt"] if row["prompt"].endswith("\n") else row["prompt"] + "\n"
        entry = row["entry_point"]
        if defines(completion, entry):
            solution = prompt + "    pass\n\n" + completion
        else:
            solution = prompt + completion
        # `f` may be the entry point itself (HumanEval/106): bind the candidate before
        # redefining `f` as the harness's entry.
        return (f"{solution}\n\n{row['test']}\n\n_azr_candidate = {entry}\n\n"
                "def f(_):\n    check(_azr_candidate)\n    return True\n")

    def score(self, executor: Executor,
              items: Sequence[tuple[Problem, str | None]]) -> list[Judged]:
        jobs = [(i, CallJob(self.program(p, a), "0")) for i, (p, a) in enumerate(items)
                if a is not None]
        results = executor.run_batch([job for _, job in jobs])
        verdicts = [Judged(False, "malformed")] * len(items)
        for (i, _), result in zip(jobs, results, strict=True):
            if result.status == "infra":
                verdicts[i] = Judged(False, "infra", True)
            elif result.ok and result.value == "True":
                verdicts[i] = Judged(True)
            else:
                verdicts[i] = Judged(False, result.reason or result.status)
        return verdicts


def defines(code: str, name: str) -> bool:
    """Whether `code` parses and defines function `name` at top level (parsing only)."""
    try:
        body = ast.parse(code).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name
               for n in body)


def make_suite(name: str, fmt: str = "r1") -> Suite:
    """The suite called `name` (one of `SUITES`)."""
    if name == "cruxeval-o":
        return CruxEvalSuite(DEDUCTION, fmt)
    if name == "cruxeval-i":
        return CruxEvalSuite(ABDUCTION, fmt)
    if name == "humaneval":
        return HumanEvalSuite(fmt)
    raise AZRConfigError(f"unknown suite {name!r}; choose from {', '.join(SUITES)}")
