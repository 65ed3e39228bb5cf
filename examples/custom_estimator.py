"""Register a new advantage estimator and benchmark it against TRR++, without touching the trainer.

1. `@register("median-baseline")` makes it available to `get(...)`, to `azr train
   estimator.name=median-baseline` and to `azr bench estimators`.
2. It is checked on a small fixed batch (two groups, unequal lengths) against numbers worked
   out by hand.
3. The estimator bandit of `azr bench estimators` (a tabular policy, rewards from the real env)
   trains with it and with `trr++` on the same seed. Runs in seconds, no model.

    python examples/custom_estimator.py
"""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import Tensor

from azr_agents.estimators import AdvantageInput, available, get, register


@register("median-baseline")
@torch.no_grad()
def median_baseline(inp: AdvantageInput, scale: float = 1.0) -> Tensor:
    """Per group key g: `A = scale * (r - median_g)`, a baseline robust to outlier rewards."""
    rewards = inp.float_rewards()
    members: defaultdict[object, list[int]] = defaultdict(list)
    for i, key in enumerate(inp.groups):
        members[key].append(i)
    adv = torch.zeros_like(rewards)
    for idx in members.values():
        r = rewards[idx]
        adv[idx] = scale * (r - r.median())
    return inp.broadcast(adv)  # each response token gets its sequence's advantage, 0 elsewhere


# -- 2. a fixed batch: two (task type, role) groups, responses of 1 to 3 tokens -----------------
batch = AdvantageInput(
    rewards=torch.tensor([1.0, -0.5, -1.0, 0.5, 0.0]),
    mask=torch.tensor([[1, 1, 0], [1, 0, 0], [1, 1, 1], [1, 1, 0], [1, 0, 0]]),
    groups=[("deduction", "solve")] * 3 + [("deduction", "propose")] * 2,
    prompt_ids=[0, 1, 2, 3, 4],
)
ours = get("median-baseline", scale=2.0)(batch)
print("registered:", available())
print("median-baseline advantages:\n", ours)
# deduction/solve: median -0.5 -> 2 * (1.5, 0, -0.5); deduction/propose: torch's median of two
# values is the lower one, 0.0 -> 2 * (0.5, 0).
expected = torch.tensor([[3.0, 3.0, 0], [0, 0, 0], [-1.0, -1.0, -1.0], [1.0, 1.0, 0], [0, 0, 0]])
assert torch.equal(ours, expected), ours
print("trr++ advantages:\n", get("trr++")(batch))

# -- 3. the estimator bandit: same tabular policy, same seed, one line per estimator --------------
from azr_agents.benchmarking.bandit import bench_estimators  # noqa: E402

rows, table = bench_estimators(["trr++", "median-baseline"], steps=30, seeds=[0])
print(f"reward table from the env in {table.seconds:.1f} s")
for row in rows:
    print(f"{row['estimator']:16s} expected reward {row['initial_mean_reward']:+.3f} -> "
          f"{row['final_mean_reward']:+.3f}  advantage variance {row['advantage_var']:.3f}")
