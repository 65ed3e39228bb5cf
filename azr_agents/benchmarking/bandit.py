"""`azr bench estimators`: every registered advantage estimator on the same synthetic bandit.

The bandit replaces the LLM with a tabular softmax policy: for each prompt of `menu.MENU` (six
task-role groups, a few prompts each) it picks one of a fixed menu of completions. Rewards come
from the real env (asked once, up front, for every prompt x completion), so format penalties and
answer checks are the training ones. Each step samples `batch` completions per group, turns
rewards into advantages with the estimator under test (group keys = (task type, role), prompt
ids = the prompt, a response mask whose lengths are the completions' rough token counts), and
takes a REINFORCE step on the logits: `logits[p] += lr * A * (onehot(choice) - softmax(logits[p]))`
averaged per group. Every estimator sees the same seeds, so differences come from the estimator.

A new estimator registered with `@azr_agents.estimators.register` appears here with no other
change (`azr bench estimators --import my_module`). An estimator can be given options
(`EstimatorSpec("grpo", {"scale": False})`, written `grpo:scale=false`) and its own step size.
Results keep every seed's values; the spread over seeds is a Student-t 95% interval of the mean
(seeds are few, 3 by default, too few for a bootstrap over seeds to mean much).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from azr_agents.benchmarking.menu import MENU, Group, MenuTask
from azr_agents.benchmarking.specs import EstimatorSpec

T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16,
        2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056,
        2.052, 2.048, 2.045, 2.042)
"""Student-t 0.975 quantiles for 1..30 degrees of freedom (beyond 30, 1.96 is within 4%)."""


def t_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and two-sided 95% Student-t interval of the mean; with one value the interval is the
    value itself (no spread can be estimated from one seed)."""
    data = np.asarray(values, float)
    mean = float(data.mean())
    if data.size < 2:
        return mean, mean, mean
    t = T975[data.size - 2] if data.size - 1 <= len(T975) else 1.96
    half = t * float(data.std(ddof=1)) / np.sqrt(data.size)
    return mean, mean - half, mean + half


@dataclass
class RewardTable:
    """`rewards[g][t][c]`: the env's reward for completion c of prompt t of group g."""

    groups: list[Group]
    rewards: list[list[np.ndarray]]
    lengths: list[list[np.ndarray]]
    reasons: dict[str, list[list[list[str]]]] = field(default_factory=dict)
    seconds: float = 0.0


def reward_table(menu: Mapping[Group, Sequence[MenuTask]] = MENU,
                 executor: Any = None) -> RewardTable:
    """Ask the real env for the reward of every (prompt, completion); one fresh env per group.

    Fresh envs keep proposals of one group out of another's buffers (the induction proposer is
    shown a program from the deduction/abduction buffers: here always the zero triplet). There is
    no solver, so a valid proposal scores 0 and an invalid or malformed one -1 (the env's
    validity-only mode); solve completions score 1 / -0.5 / -1.
    """
    import gymnasium as gym

    import azr_env  # noqa: F401  (registers the env ids)
    from azr_env.executor import Executor

    start = time.perf_counter()
    own = executor is None
    executor = executor or Executor(workers=1)
    groups, rewards, lengths = list(menu), [], []
    reasons: list[list[list[str]]] = []
    try:
        for task_type, role in groups:
            env = gym.make("azr_env/SelfPlay-v0", executor=executor)
            g_rewards, g_lengths, g_reasons = [], [], []
            for item in menu[(task_type, role)]:
                row, why = [], []
                for completion in item.candidates:
                    if item.task is None:
                        env.reset(seed=0, options={"group": (task_type, role)})
                    else:
                        env.reset(options={"task": {"task_type": task_type, **item.task}})
                    _, reward, _, _, info = env.step(completion)
                    row.append(float(reward))
                    why.append(str(info["reason"]))
                g_rewards.append(np.array(row))
                g_lengths.append(np.array([max(1, len(c) // 4) for c in item.candidates]))
                g_reasons.append(why)
            env.close()
            rewards.append(g_rewards)
            lengths.append(g_lengths)
            reasons.append(g_reasons)
    finally:
        if own:
            executor.close()
    return RewardTable(groups, rewards, lengths, {"reasons": reasons},
                       time.perf_counter() - start)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max())
    return np.asarray(z / z.sum())


@dataclass
class BanditRun:
    """One estimator on one seed: expected reward per group after each step, advantage stats."""

    estimator: str  # the spec's label: name plus options
    seed: int
    curves: np.ndarray  # [steps + 1, groups]: expected reward under the policy
    advantage_var: float
    seconds: float


def run_bandit(estimator: str | EstimatorSpec, table: RewardTable, *, steps: int, seed: int,
               batch: int = 8, lr: float = 0.1) -> BanditRun:
    """Train the tabular policy for `steps` with `estimator` (a name, or a name and options)."""
    import torch

    from azr_agents.estimators import AdvantageInput, get

    spec = estimator if isinstance(estimator, EstimatorSpec) else EstimatorSpec(estimator)
    advantages = get(spec.name, **spec.options)  # a fresh instance: stateful ones start clean
    rng = np.random.default_rng(seed)
    logits = [[np.zeros(len(r)) for r in group] for group in table.rewards]

    def expected() -> list[float]:
        return [float(np.mean([_softmax(lg) @ r for lg, r in zip(lgs, rs, strict=True)]))
                for lgs, rs in zip(logits, table.rewards, strict=True)]

    curves = [expected()]
    variances = []
    start = time.perf_counter()
    for _ in range(steps):
        picks: list[tuple[int, int, int]] = []  # (group, prompt, choice)
        for g, group in enumerate(table.rewards):
            for _ in range(batch):
                t = int(rng.integers(len(group)))
                picks.append((g, t, int(rng.choice(len(group[t]), p=_softmax(logits[g][t])))))
        rewards = torch.tensor([table.rewards[g][t][c] for g, t, c in picks], dtype=torch.float32)
        lens = [int(table.lengths[g][t][c]) for g, t, c in picks]
        mask = torch.zeros(len(picks), max(lens))
        for i, n in enumerate(lens):
            mask[i, :n] = 1.0
        inp = AdvantageInput(rewards, mask, groups=[table.groups[g] for g, _, _ in picks],
                             prompt_ids=[(g, t) for g, t, _ in picks])
        adv = ((advantages(inp) * mask).sum(1) / mask.sum(1)).numpy()
        variances.append(float(adv.var()))
        for (g, t, c), a in zip(picks, adv, strict=True):
            probs = _softmax(logits[g][t])
            step = -probs
            step[c] += 1.0
            logits[g][t] += lr * float(a) * step / batch
        curves.append(expected())
    return BanditRun(spec.label, seed, np.array(curves), float(np.mean(variances or [0.0])),
                     time.perf_counter() - start)


def summarize(runs: Sequence[BanditRun], groups: Sequence[Group]) -> list[dict[str, Any]]:
    """One row per estimator: the mean over seeds of the final expected reward per group and
    overall (with `final_mean_reward_ci95`, a t-interval over seeds), mean advantage variance,
    wall time, the mean curve (for the plot), and `per_seed`: each seed's own final values."""
    rows = []
    for name in dict.fromkeys(r.estimator for r in runs):
        mine = [r for r in runs if r.estimator == name]
        curve = np.mean([r.curves for r in mine], axis=0)
        keys = [f"{t}/{role}" for t, role in groups]
        finals = np.array([r.curves[-1] for r in mine])  # [seeds, groups]
        _, low, high = t_interval(finals.mean(axis=1))
        rows.append({
            "estimator": name,
            "seeds": [r.seed for r in mine],
            "final_reward": {k: round(float(v), 4) for k, v in zip(keys, curve[-1], strict=True)},
            "final_reward_ci95": {k: [round(v, 4) for v in t_interval(finals[:, i].tolist())[1:]]
                                  for i, k in enumerate(keys)},
            "final_mean_reward": round(float(curve[-1].mean()), 4),
            "final_mean_reward_ci95": [round(low, 4), round(high, 4)],
            "initial_mean_reward": round(float(curve[0].mean()), 4),
            "advantage_var": round(float(np.mean([r.advantage_var for r in mine])), 4),
            "seconds": round(float(sum(r.seconds for r in mine)), 3),
            "per_seed": [{"seed": r.seed,
                          "final_mean_reward": round(float(r.curves[-1].mean()), 4),
                          "final_reward": {k: round(float(v), 4)
                                           for k, v in zip(keys, r.curves[-1], strict=True)},
                          "advantage_var": round(r.advantage_var, 4),
                          "seconds": round(r.seconds, 3)} for r in mine],
            "curve": [round(float(v), 4) for v in curve.mean(axis=1)],
            "group_curves": curve.round(4).tolist(),
        })
    return rows


def plot_curves(rows: Sequence[Mapping[str, Any]], groups: Sequence[Group], path: Any) -> None:
    """One panel per group plus the mean: expected reward vs step, one line per estimator."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(14, 6), sharex=True)
    panels = [*(f"{t}/{r}" for t, r in groups), "mean"]
    for ax, title in zip(axes.flat, panels, strict=False):
        for row in rows:
            curve = np.array(row["group_curves"])
            ys = curve.mean(axis=1) if title == "mean" else curve[:, panels.index(title)]
            ax.plot(ys, label=row["estimator"])
        ax.set_title(title, fontsize=9)
        ax.set_ylim(-1.05, 1.05)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    axes.flat[len(panels) - 1].legend(fontsize=7)
    fig.supxlabel("step")
    fig.supylabel("expected reward")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def bench_estimators(estimators: Sequence[str | EstimatorSpec], *, steps: int,
                     seeds: Sequence[int], batch: int = 8, lr: float | Mapping[str, float] = 0.1,
                     table: RewardTable | None = None) -> tuple[list[dict[str, Any]], RewardTable]:
    """Run every estimator on every seed; rows as in `summarize`, each with its `lr` and
    `options`. `lr` is one step size for all, or one per spec label (missing labels get 0.1)."""
    table = table or reward_table()
    specs = [e if isinstance(e, EstimatorSpec) else EstimatorSpec(e) for e in estimators]
    lrs = {s.label: lr if isinstance(lr, float | int) else lr.get(s.label, 0.1) for s in specs}
    runs = [run_bandit(spec, table, steps=steps, seed=seed, batch=batch, lr=float(lrs[spec.label]))
            for spec in specs for seed in seeds]
    rows = summarize(runs, table.groups)
    for spec, row in zip(specs, rows, strict=True):
        row.update(lr=float(lrs[spec.label]), options=dict(spec.options))
    return rows, table
