"""The `azr eval` flow: generate (or read) answers, score them in the sandbox, report.

For each model (or the one predictions file) and each suite: take the first `limit` problems,
get `samples` answers per problem, judge them in one executor shared by the whole run, and
compute pass@k. Results go to a JSON file (for one CRUXEval suite it is in CRUXEval's scored
format, so their tools read it), a table on stdout, and a bar chart when there are several rows.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from azr_agents.errors import AZRConfigError
from azr_agents.evaluation.cruxeval_format import read_generations
from azr_agents.evaluation.passk import mean_pass_at_k
from azr_agents.evaluation.suites import SUITES, Problem, Suite, make_suite
from azr_env.executor import Executor

EMBEDDED = "embedded"
"""The model label of `--model` left out (the embedded default model)."""


@dataclass
class EvalOptions:
    """Everything one `azr eval` run depends on; saved in the results' `meta`.

    `models`: model paths, `None` standing for the embedded model. `predictions`: a generations
    file to score instead of generating (one suite only). `samples`/`temperature`: n samples per
    problem for pass@k; `temperature=0` is greedy decoding and then needs `samples=1`.
    """

    suites: list[str]
    models: list[str | None] = field(default_factory=lambda: [None])
    predictions: str | None = None
    samples: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    limit: int | None = None
    out: str | None = None
    max_new_tokens: int = 512
    batch_size: int = 8
    format: str = "r1"
    timeout_s: float = 10.0
    workers: int | None = None
    seed: int = 0
    progress: bool = True

    def validate(self) -> None:
        """Raise `AZRConfigError` naming the option to change."""
        unknown = [s for s in self.suites if s not in SUITES]
        if not self.suites or unknown:
            raise AZRConfigError(
                f"--suite must be among {', '.join(SUITES)} (got {unknown or 'none'})"
            )
        if self.predictions is not None and len(self.suites) != 1:
            raise AZRConfigError("--predictions scores one suite: give exactly one --suite")
        if self.samples < 1 or self.max_new_tokens < 1 or self.batch_size < 1:
            raise AZRConfigError("--samples, --max-new-tokens and --batch-size must be positive")
        if self.limit is not None and self.limit < 1:
            raise AZRConfigError(f"--limit must be positive, got {self.limit}")
        if self.temperature < 0:
            raise AZRConfigError(f"--temperature must be >= 0, got {self.temperature}")
        if self.samples > 1 and self.temperature == 0 and self.predictions is None:
            raise AZRConfigError(
                "--samples > 1 needs --temperature > 0 (greedy samples are identical)"
            )


Answerer = Callable[[Suite, list[Problem]], list[tuple[list[str], list[str | None]]]]
"""Problems -> for each, (raw generations, extracted answers); one call per chunk."""


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="problem", disable=not enabled, file=sys.stderr,
                dynamic_ncols=True)


def _policy_answerer(policy: Any, options: EvalOptions) -> Answerer:
    def answer(suite: Suite, problems: list[Problem]) -> list[tuple[list[str], list[str | None]]]:
        prompts = [suite.prompt(p) for p in problems]
        gens = policy.generate(prompts, max_new_tokens=options.max_new_tokens,
                               temperature=options.temperature, top_p=options.top_p,
                               n=options.samples)
        rows: list[tuple[list[str], list[str | None]]] = [([], []) for _ in problems]
        for gen in gens:
            rows[gen.prompt_index][0].append(gen.text)
            rows[gen.prompt_index][1].append(suite.answer_of(gen.text))
        return rows

    return answer


def evaluate_suite(suite: Suite, problems: list[Problem], executor: Executor, answerer: Answerer,
                   *, batch_size: int, label: str, progress: bool = True) -> dict[str, Any]:
    """Answer and score `problems` chunk by chunk; one result row (pass rates in %)."""
    start = time.perf_counter()
    suite.prepare(executor, problems)
    generations: dict[str, list[str]] = {}
    answers: dict[str, list[str | None]] = {}
    scored: dict[str, list[bool]] = {}
    reasons: Counter[str] = Counter()
    bar = _progress(len(problems), f"{label} {suite.name}", progress)
    for at in range(0, len(problems), batch_size):
        chunk = problems[at:at + batch_size]
        got = answerer(suite, chunk)
        items = [(p, a) for p, (_, ans) in zip(chunk, got, strict=True) for a in ans]
        verdicts = iter(suite.score(executor, items))
        for problem, (raw, ans) in zip(chunk, got, strict=True):
            generations[problem.id], answers[problem.id] = raw, ans
            row = [next(verdicts) for _ in ans]
            if any(v.infra for v in row):
                raise RuntimeError(f"the sandbox failed while scoring {problem.id}; rerun")
            scored[problem.id] = [v.correct for v in row]
            reasons.update(v.reason or "correct" for v in row)
        bar.update(len(chunk))
    bar.close()
    rows = list(scored.values())
    n = min((len(r) for r in rows), default=0)
    ks = [k for k in (1, 5, 10, 100) if k <= n] + ([n] if n not in (1, 5, 10, 100) else [])
    pass_at_k = {str(k): _percent(mean_pass_at_k(rows, k)) for k in ks}
    return {
        "model": label,
        "suite": suite.name,
        "problems": len(problems),
        "samples": n,
        "pass_at_1": pass_at_k.get("1"),
        "pass_at_5": pass_at_k.get("5"),
        "pass_at_k": pass_at_k,
        "reasons": dict(reasons.most_common()),
        "seconds": round(time.perf_counter() - start, 2),
        "raw_generations": generations,
        "raw_scored_generations": scored,
        "answers": answers,
    }


def _percent(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def _predictions_answerer(suite: Suite, path: str) -> tuple[list[str], Answerer]:
    """The ids in the file (in suite order) and an answerer that reads them."""
    problems = suite.problems()
    table = read_generations(path, {p.id for p in problems})

    def answer(suite: Suite, chunk: list[Problem]) -> list[tuple[list[str], list[str | None]]]:
        return [(table[p.id], [suite.prediction(t) for t in table[p.id]]) for p in chunk]

    return [p.id for p in problems if p.id in table], answer


def run_eval(options: EvalOptions, load: Callable[..., Any] | None = None) -> list[dict[str, Any]]:
    """Run the whole evaluation; write results (and a chart); return the result rows."""
    options.validate()
    suites = [make_suite(name, options.format) for name in options.suites]
    preload = sorted({m for s in suites for m in s.preload()})
    rows: list[dict[str, Any]] = []
    with Executor(
        preload=preload, timeout_s=options.timeout_s, workers=options.workers
    ) as executor:
        if options.predictions is not None:
            suite = suites[0]
            ids, answerer = _predictions_answerer(suite, options.predictions)
            wanted = set(ids[: options.limit] if options.limit else ids)
            problems = [p for p in suite.problems() if p.id in wanted]
            label = Path(options.predictions).name
            rows.append(evaluate_suite(suite, problems, executor, answerer,
                                       batch_size=max(options.batch_size, 64), label=label,
                                       progress=options.progress))
        else:
            if load is None:
                from azr_agents.policies import load_policy

                load = load_policy
            for model in options.models:
                policy = load(model, seed=options.seed)
                answerer = _policy_answerer(policy, options)
                for suite in suites:
                    rows.append(evaluate_suite(suite, suite.problems(options.limit), executor,
                                               answerer, batch_size=options.batch_size,
                                               label=model or EMBEDDED, progress=options.progress))
                del policy
    write_results(rows, options)
    return rows


def default_out() -> Path:
    return Path("runs") / f"eval-{datetime.now().strftime('%Y%m%d-%H%M%S')}" / "results.json"


def write_results(rows: Sequence[dict[str, Any]], options: EvalOptions) -> Path:
    """One row: that row at top level (CRUXEval's scored format plus our keys); several:
    `{"meta", "results": [...]}` and a bar chart beside the JSON."""
    out = Path(options.out) if options.out else default_out()
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "options": asdict(options)}
    if len(rows) == 1:
        document: dict[str, Any] = {**rows[0], "meta": meta}
    else:
        document = {"meta": meta, "results": list(rows)}
        from azr_agents.evaluation.plots import bar_chart

        bar_chart(rows, out.with_suffix(".png"))
    out.write_text(json.dumps(document, indent=1) + "\n")
    return out


def summary_table(rows: Sequence[dict[str, Any]]) -> Any:
    """A rich table: model, suite, problems, samples, pass@k, top failure reasons, time."""
    from rich.table import Table

    table = Table(title="azr eval")
    for name in ("model", "suite", "problems", "samples", "pass@1 %", "pass@k %", "failures", "s"):
        table.add_column(name,
                         justify="right" if name not in ("model", "suite", "failures") else "left")
    for row in rows:
        more = ", ".join(f"@{k}: {v:.1f}" for k, v in row["pass_at_k"].items()
                         if k != "1" and v is not None)
        fails = ", ".join(f"{k} {v}" for k, v in row["reasons"].items() if k != "correct")
        p1 = row["pass_at_1"]
        table.add_row(str(row["model"]), row["suite"], str(row["problems"]), str(row["samples"]),
                      "-" if p1 is None else f"{p1:.1f}", more or "-", fails[:60] or "-",
                      f"{row['seconds']:.1f}")
    return table
