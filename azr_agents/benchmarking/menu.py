"""The bandit's fixed menu: for each of the six task-role groups, a few tasks and, for each task,
candidate completions (right, wrong, malformed), written as a scripted policy would write them.

Rewards are not written here: `reward_table` asks the real env, so the bandit optimises exactly
the rewards training sees (format penalties, value equality, validity checks included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Group = tuple[str, str]


@dataclass(frozen=True)
class MenuTask:
    """One prompt of the bandit: a solve task posed to the env (None: a propose prompt)."""

    task: dict[str, Any] | None
    candidates: tuple[str, ...]


def answer(blocks: str) -> str:
    return f"<think>scripted</think> <answer>\n{blocks}\n</answer>"


def block(kind: str, content: str) -> str:
    return f"```{kind}\n{content}\n```"


MALFORMED = "I think the answer is 42."
"""No <answer> tags: the format penalty."""

_INDUCTION_INPUTS = [str(i) for i in (1, 2, 3, 5, 8, 13, 21, 34, 55, 89)]

MENU: dict[Group, list[MenuTask]] = {
    ("deduction", "solve"): [
        MenuTask({"program": "def f(a):\n    return sorted(a)[::-1]", "input": "[3, 1, 2]"},
                 (answer(block("output", "[3, 2, 1]")), answer(block("output", "[1, 2, 3]")),
                  answer(block("output", "(3, 2, 1)")), MALFORMED)),
        MenuTask({"program": "def f(s):\n    return s.upper() + s", "input": "'ab'"},
                 (answer(block("output", '"ABab"')), answer(block("output", "'abAB'")),
                  answer("ABab"), MALFORMED)),
    ],
    ("abduction", "solve"): [
        MenuTask({"program": "def f(a, b):\n    return a * b + 1", "input": "3, 4"},
                 (answer(block("input", "4, 3")), answer(block("input", "2, 5")),
                  answer(block("input", "13")), MALFORMED)),
        MenuTask({"program": "def f(xs):\n    return sum(xs)", "input": "[1, 2, 3]"},
                 (answer(block("input", "[6]")), answer(block("input", "[1, 2]")),
                  answer(block("output", "6")), MALFORMED)),
    ],
    ("induction", "solve"): [
        MenuTask({"program": "def f(x):\n    return x * 2", "inputs": _INDUCTION_INPUTS,
                  "message": "Double the number."},
                 (answer(block("python", "def f(x):\n    return x + x")),
                  answer(block("python", "def f(x):\n    return x ** 2")),
                  answer(block("python", "def f(x):\n    return 2 * x if x < 20 else x")),
                  MALFORMED)),
    ],
    ("deduction", "propose"): [
        MenuTask(None, (
            answer(block("python", "def f(xs):\n    return [x * x for x in xs if x % 2]")
                   + "\n" + block("input", "[1, 2, 3, 4, 5]")),
            answer(block("python", "import random\ndef f(n):\n    return random.random() * n")
                   + "\n" + block("input", "3")),
            answer(block("python", "def f(xs):\n    return xs[10]")
                   + "\n" + block("input", "[1, 2]")),
            MALFORMED)),
    ],
    ("abduction", "propose"): [
        MenuTask(None, (
            answer(block("python", "def f(s, k):\n    return s[k:] + s[:k]")
                   + "\n" + block("input", "'rotate', 2")),
            answer(block("python", "def f(s, k):\n    return s[k:] + s[:k]")),
            answer(block("python", "def f(n):\n    return 'x' * n")
                   + "\n" + block("input", "5000")),
            MALFORMED)),
    ],
    ("induction", "propose"): [
        MenuTask(None, (
            answer("\n".join(block("input", x) for x in _INDUCTION_INPUTS[:10])
                   + "\n" + block("message", "Think about how each number relates to its output.")),
            answer("\n".join(block("input", x) for x in _INDUCTION_INPUTS[:3])
                   + "\n" + block("message", "Too few inputs.")),
            answer("\n".join(block("input", x) for x in _INDUCTION_INPUTS[:10])),
            MALFORMED)),
    ],
}
"""Each group's tasks; each task's candidates (about one in four right or valid)."""
