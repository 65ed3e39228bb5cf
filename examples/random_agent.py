"""A random agent on `azr_env/SelfPlay-v0`: the smallest complete loop over the environment.

Half of its actions are random text (scored -1: no answer), half are well-formed answers with a
random guess inside. The same random policy is the env's `solver`, which tries each valid
proposal n times to estimate its learnability. No model is needed; it runs in about a second.

    python examples/random_agent.py
"""

from __future__ import annotations

import random
import string
from collections import Counter

import gymnasium as gym

import azr_env  # noqa: F401  (registers the azr_env/* ids)

rng = random.Random(0)
GUESSES = ["'Hello world'", "1", "[1, 2]", "'dlrow olleH'"]


def act(prompt: str) -> str:
    """A random completion: noise, or a well-formed answer holding a random guess."""
    if rng.random() < 0.5:
        return "".join(rng.choices(string.printable, k=40))
    guess = rng.choice(GUESSES)
    return (f"</think> <answer>```python\ndef f(a):\n    return a\n```\n```input\n{guess}\n```\n"
            f"```output\n{guess}\n```</answer>")


def solver(prompts: list[str]) -> list[str]:
    return [act(p) for p in prompts]


env = gym.make("azr_env/SelfPlay-v0", solver=solver, rewards={"num_samples": 4})
reasons: Counter[str] = Counter()
for episode in range(12):  # two self-play cycles of the six (task type, role) groups
    obs, info = env.reset(seed=0 if episode == 0 else None)
    _, reward, terminated, truncated, info = env.step(act(obs["prompt"]))
    assert terminated and not truncated  # every episode is one step
    reasons[info["reason"]] += 1
    print(f"{episode:2d} {obs['role']:8s} {obs['task_type']:10s} reward={reward:+.2f}  "
          f"reason={info['reason']:<24s} solve_rate={info['solve_rate']}")
print("reasons:", dict(reasons))
print("buffer sizes:", env.unwrapped.buffers.sizes())  # type: ignore[attr-defined]
env.close()
