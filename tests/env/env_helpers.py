"""Completions in the R1 format and a scripted solver, shared by the env tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MakeEnv = Callable[..., Any]


def answer(body: str) -> str:
    """A well-formed R1 completion whose answer is `body`."""
    return f"Let me think.</think>\n<answer>\n{body}\n</answer>"


def block(kind: str, content: str) -> str:
    return f"```{kind}\n{content}\n```"


def triplet(program: str, args: str) -> str:
    """A deduction/abduction proposal completion."""
    return answer(block("python", program) + "\n" + block("input", args))


def induction(inputs: list[str], message: str) -> str:
    """An induction proposal completion."""
    return answer("\n".join(block("input", i) for i in inputs) + "\n" + block("message", message))


def scripted_solver(prompts: list[str]) -> list[str]:
    """Deterministic stand-in for a policy: half its attempts say 'Hello world', half junk.

    Any task whose answer is the zero triplet's value is thus solved at rate 1/2.
    """
    hello = "'Hello world'"
    return [
        answer(
            block("output", hello)
            + block("input", hello)
            + block("python", "def f(a):\n    return a")
        )
        if i % 2 == 0
        else "no answer"
        for i, _ in enumerate(prompts)
    ]
