"""The held-out probe of `azr bench learning`: does self-play transfer to programs it never saw?

Two sources, both unseen by training: `azr_env/data/probe/probe.jsonl` (120 simple, varied
functions written for this purpose, asked as deduction and as abduction) and a CRUXEval subset
(CRUXEval-O as deduction, CRUXEval-I as abduction). Every item is posed to the env with
`reset(options={"task": ...})` and scored by the env itself, so the probe uses the same prompt
format, parser and sandboxed checks as training. Decoding is greedy: one answer per item, the
same every time for the same weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from azr_agents.training.session import score_posed
from azr_env.config import EnvConfig
from azr_env.executor import Executor


@dataclass(frozen=True)
class ProbeItem:
    """One held-out question: a task for `reset(options={"task": ...})` and the suite it is in."""

    suite: str
    task: dict[str, Any]


def _jsonl(path: str) -> list[dict[str, Any]]:
    text = resources.files("azr_env").joinpath(path).read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def probe_items(cruxeval: int = 40) -> list[ProbeItem]:
    """The probe set: the shipped simple programs as deduction and abduction, then the first
    `cruxeval` CRUXEval problems as CRUXEval-O (deduction) and CRUXEval-I (abduction)."""
    items = []
    for row in _jsonl("data/probe/probe.jsonl"):
        for task_type, suite in (("deduction", "simple-O"), ("abduction", "simple-I")):
            items.append(ProbeItem(suite, {"task_type": task_type, "program": row["program"],
                                           "input": row["input"], "output": row["output"]}))
    for row in _jsonl("data/cruxeval/cruxeval.jsonl")[:cruxeval]:
        for task_type, suite in (("deduction", "cruxeval-O"), ("abduction", "cruxeval-I")):
            items.append(ProbeItem(suite, {"task_type": task_type, "program": row["code"],
                                           "input": row["input"], "output": row["output"]}))
    return items


def score_probe(policy: Any, items: list[ProbeItem], executor: Executor, env_config: EnvConfig,
                max_new_tokens: int = 48) -> np.ndarray:
    """1.0 where the policy's greedy answer is right, else 0.0, in the order of `items`."""
    def greedy(prompts: list[str]) -> list[str]:
        outputs = policy.generate(prompts, max_new_tokens=max_new_tokens, temperature=0.0)
        return [o.text for o in outputs]

    infos = score_posed([it.task for it in items], greedy, executor, env_config)
    return np.asarray([1.0 if info.get("accuracy") else 0.0 for info in infos])


def bootstrap_interval(diffs: np.ndarray, seed: int = 0, resamples: int = 4000,
                       level: float = 0.95) -> tuple[float, float, float]:
    """Mean of per-item paired differences and its percentile bootstrap interval (items are
    resampled; the same resample is used for before and after, so the pairing is kept)."""
    if diffs.size == 0:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, diffs.size, size=(resamples, diffs.size))
    means = diffs[picks].mean(axis=1)
    tail = (1.0 - level) / 2
    return float(diffs.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def seed_item_bootstrap(deltas: np.ndarray, seed: int = 0, resamples: int = 4000,
                        level: float = 0.95) -> tuple[float, float, float]:
    """Mean of per-item paired differences of several seeds (`deltas[seed, item]`) and a
    percentile bootstrap interval that resamples seeds and items both: wider than resampling
    items of the pooled mean, because it also counts how much the result moves from seed to
    seed. With one seed it is an item bootstrap, like `bootstrap_interval`."""
    deltas = np.atleast_2d(np.asarray(deltas, float))
    if deltas.size == 0:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    seeds, items = deltas.shape
    means = np.empty(resamples)
    for i in range(resamples):  # ~4000 x (seeds x items) numbers: a fraction of a second
        means[i] = deltas[rng.integers(0, seeds, seeds)][:, rng.integers(0, items, items)].mean()
    tail = (1.0 - level) / 2
    return (
        float(deltas.mean()),
        float(np.quantile(means, tail)),
        float(np.quantile(means, 1 - tail)),
    )
