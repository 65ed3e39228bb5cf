"""A scripted agent on the native vector env (`gymnasium.make_vec`): rules instead of a model.

It proposes programs from a fixed list and remembers them. As a solver it recognises its own
programs in the prompt: for deduction it runs the program in its own sandbox (a tool-using
agent), for abduction it answers the input it proposed, for induction it guesses the identity.
It is also the env's `solver` for the learnability estimate, wrong on purpose half the time so
that proposals get a solve rate strictly between 0 and 1. Runs in a few seconds, no model.

    python examples/scripted_agent.py
"""

from __future__ import annotations

import random
from collections import Counter

import gymnasium as gym

import azr_env  # noqa: F401  (registers the azr_env/* ids)
from azr_env.executor import Executor

PROPOSALS = [  # (program, input); the last one imports a banned module and is refused
    ("def f(s):\n    return s[::-1]", "'Hello world'"),
    ("def f(a, b):\n    return a * b + 1", "3, 4"),
    ("def f(xs):\n    return sorted(set(xs))", "[3, 1, 2, 1]"),
    ("import random\ndef f(n):\n    return random.random() * n", "1"),
]
INDUCTION_INPUTS = ["'abc'", "'racecar'", "'xyz'", "'a b'", "''", "'12'", "'Aa'", "'zz'", "'q'",
                    "'ok'"]
rng = random.Random(0)
sandbox = Executor(workers=1, timeout_s=5)


def answer(*blocks: tuple[str, str]) -> str:
    """An R1-format completion whose answer holds the given fenced blocks."""
    return "</think> <answer>" + "".join(f"```{k}\n{v}\n```\n" for k, v in blocks) + "</answer>"


def propose(task_type: str, i: int) -> str:
    if task_type == "induction":  # inputs for the program shown in the prompt, plus a message
        return answer(*[("input", x) for x in INDUCTION_INPUTS],
                      ("message", "Try strings and see what comes back."))
    program, args = PROPOSALS[i % len(PROPOSALS)]
    return answer(("python", program), ("input", args))


def solve(prompt: str) -> str:
    known = [(p, a) for p, a in PROPOSALS if p in prompt]
    if "Deduce the Output" in prompt and known:
        result = sandbox.run(*known[0])
        return answer(("output", result.value or "None"))
    if "Provide One Possible Input" in prompt and known:
        return answer(("input", known[0][1]))
    if "Deduce the Function" in prompt:
        return answer(("python", "def f(a):\n    return a"))
    return answer(("output", "'Hello world'"))  # the zero triplet's value


def noisy_solver(prompts: list[str]) -> list[str]:
    """The env calls this with n copies of each new task's solve prompt."""
    return [solve(p) if rng.random() < 0.5 else "no idea" for p in prompts]


venv = gym.make_vec("azr_env/SelfPlay-v0", num_envs=4, vectorization_mode="vector_entry_point",
                    solver=noisy_solver, rewards={"num_samples": 4})
reasons: Counter[str] = Counter()
obs, infos = venv.reset(seed=0)
for step in range(12):  # two self-play steps: propose x3 then solve x3, each over 4 sub-envs
    role, task_type = obs["role"][0], obs["task_type"][0]  # sub-envs move through groups together
    if role == "propose":
        actions = [propose(task_type, i) for i in range(venv.num_envs)]
    else:
        actions = [solve(p) for p in obs["prompt"]]
    obs, rewards, terminated, truncated, infos = venv.step(actions)
    scored = infos["final_info"]  # same-step autoreset: the scored step's infos are here
    reasons.update(scored["reason"])
    print(f"{step:2d} {role:8s} {task_type:10s} rewards={[round(float(r), 2) for r in rewards]}  "
          f"reasons={list(scored['reason'])}")
print("reasons:", dict(reasons))
venv.close()
sandbox.close()
