"""`R1Format(require_think=True, answer_fallbacks=True)` (`r1-reference`) reads completions as
the reference code does; checked against regular expressions written from the reference's
`extract_input_output` and `get_format_reward`, and through the env."""

from __future__ import annotations

import re

import gymnasium as gym
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azr_env.executor import Executor
from azr_env.formats import R1Format, get_format
from azr_env.formats.fallbacks import reference_value, think_then_answer

FLAGS = re.DOTALL | re.IGNORECASE


def oracle_value(answer: str, kind: str) -> str:
    """The reference's fallback chain after the fenced block, as regular expressions."""
    for pattern in (rf"# {kind}:\s*(.*?)(?=\n```|$)", rf"{kind}\s*\((.*?)\)",
                    rf"<{kind}>\s*(.*?)(?:</{kind}>|\s*$)", rf"the {kind} is\s*(.*?)\.?$"):
        matches = list(re.finditer(pattern, answer, FLAGS))
        if matches:
            return matches[-1].group(1).strip()
    return answer.strip()


def oracle_think(completion: str) -> bool:
    return (
        re.match(r"(?s)<think>.*?</think>\s*<answer>.*?</answer>", "<think>" + completion)
        is not None
    )


PIECES = ["# Output:", "# output: ", "output(", ")", "<output>", "</output>", "the output is",
          "The Output Is ", "6", "'a'", ".", "\n", "\n```", " ", "x", "input(", "# Input:",
          "<input>", "</input>", "the input is", "é"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=10), st.sampled_from(["input", "output"]))
def test_fallbacks_read_what_the_reference_reads(pieces: list[str], kind: str) -> None:
    answer = "".join(pieces)
    assert reference_value(answer, kind, None) == oracle_value(answer, kind)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["</think>", "<answer>", "</answer>", " ", "\n", "x", "<think>"]),
                max_size=8))
def test_the_think_check_is_the_references(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert think_then_answer(text) == oracle_think(text)


@pytest.mark.parametrize(("answer", "kind", "expected"), [
    ("# Output: 6", "output", "6"),
    ("blah\n# Output:\n[1, 2]\n```", "output", "[1, 2]"),
    ("output(6) then output(7)", "output", "7"),
    ("<output> 'x' </output>", "output", "'x'"),
    ("<OUTPUT>6", "output", "6"),
    ("So the output is 6.", "output", "6"),
    ("6", "output", "6"),
    ("# Input: 'a', 2", "input", "'a', 2"),
    ("the input is [1]", "input", "[1]"),
    ("# Output: 1\n<output>2</output>", "output", "1\n<output>2</output>"),  # first form wins
])
def test_each_fallback_form(answer: str, kind: str, expected: str) -> None:
    assert reference_value(answer, kind, None) == expected


def test_a_fenced_block_comes_first_and_other_kinds_are_untouched() -> None:
    fmt = R1Format(answer_fallbacks=True)
    assert fmt.answer_value("# Output: 1\n```output\n2\n```", "output") == "2"
    assert fmt.answer_value("def f(a): return a", "python") is None  # induction: blocks only
    assert R1Format().answer_value("# Output: 1", "output") is None


def test_require_think_wants_whitespace_only_between_think_and_answer() -> None:
    strict = R1Format(require_think=True)
    assert strict.extract_answer("x</think>\n <answer>a</answer>") == "a"
    assert strict.extract_answer("x</think> so <answer>a</answer>") is None
    assert strict.extract_answer("<answer>a</answer>") is None


@pytest.mark.parametrize("body", ["# Output: 6", "<output>6</output>", "the output is 6", "6",
                                  "output(6)"])
def test_fallback_answers_score_as_right_through_the_env(executor: Executor, body: str) -> None:
    rewards = {}
    for name in ("r1", "r1-reference"):
        env = gym.make("azr_env/Deduction-Solve-v0", executor=executor, format=name)
        env.reset(options={"task": {"program": "def f(a):\n    return a * 2", "input": "3"}})
        _, rewards[name], *_ = env.step(f"I trace it.</think>\n<answer>\n{body}\n</answer>")
        env.close()
    assert rewards == {"r1": -1.0, "r1-reference": 1.0}
    assert isinstance(get_format("r1-reference"), R1Format)
