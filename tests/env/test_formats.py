"""Prompt formats: rendering shows the given fields; parsing never raises and stays linear."""

from __future__ import annotations

import time
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from azr_env.errors import AZRConfigError
from azr_env.formats import (
    PlainFormat,
    PromptFields,
    PromptFormat,
    R1Format,
    Reference,
    Renderer,
    available_formats,
    get_format,
    register_format,
)
from azr_env.task import ABDUCTION, DEDUCTION, INDUCTION, TASK_TYPES

FORMATS = ["r1", "plain"]
KINDS = ["python", "input", "output", "message"]
MB = 1024 * 1024

TOKENS = [
    "<answer>", "</answer>", "<think>", "</think>", "```", "```python", "```input", "```output",
    "```message", "```py", "```Python", "\n", "\r\n", " ", "Answer:", "answer :", "<answer",
    "`", "``", "````", "\x00", "\udc80", "\U0001f600", "İ", "def f(a):\n    return a",
]
noisy_text = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec=None)),  # includes lone surrogates
    st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=5)), max_size=40).map("".join),
)


def answer_of(fmt_name: str, answer: str) -> str:
    """A completion in the given format whose answer part is `answer`."""
    if fmt_name == "r1":
        return f"step by step ...</think>\n<answer>\n{answer}\n</answer>"
    return f"Let me think.\nAnswer:\n{answer}\n"


# -- extract_answer ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("no tags at all", None),
        ("<answer>unclosed", None),
        ("</answer> only a close", None),
        ("<answer>a</answer>", "a"),
        ("<think>x</think> <answer> a </answer>", "a"),
        ("<answer>first</answer> then <answer>second</answer>", "second"),
        ("<answer>done</answer> <answer>cut off", None),
        ("<answer>outer <answer>inner</answer> tail</answer>", "inner"),
        ("<answer></answer>", ""),
        ("<ANSWER>case</ANSWER>", None),
    ],
)
def test_r1_extract_answer(text: str, expected: str | None) -> None:
    assert R1Format().extract_answer(text) == expected


def test_r1_require_think_option() -> None:
    strict = R1Format(require_think=True)
    assert strict.extract_answer("<answer>a</answer>") is None
    assert strict.extract_answer("reasoning</think><answer>a</answer>") == "a"
    assert strict.extract_answer("<answer>a</answer></think>") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("the answer is 4", None),
        ("Answer: 4", "4"),
        ("reasoning\n  answer :  'x' \n", "'x'"),
        ("Answer: 1\nno wait\nAnswer: 2", "2"),
        ("Final Answer: 3", None),  # the marker must start its line
    ],
)
def test_plain_extract_answer(text: str, expected: str | None) -> None:
    assert PlainFormat().extract_answer(text) == expected


# -- blocks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt_name", FORMATS)
def test_last_block_takes_last_closed_block(fmt_name: str) -> None:
    fmt = get_format(fmt_name)
    answer = "```output\n1\n```\ntext\n```output\n2\n```\n```output\n3"
    assert fmt.last_block(answer, "output") == "2"
    assert fmt.all_blocks(answer, "output") == ["1", "2"]
    assert fmt.last_block(answer, "input") is None
    assert fmt.last_block(None, "output") is None


@pytest.mark.parametrize("fmt_name", FORMATS)
def test_block_variants(fmt_name: str) -> None:
    fmt = get_format(fmt_name)
    assert fmt.last_block("```output 'same line'```", "output") == "'same line'"
    assert fmt.last_block("```OUTPUT\n  {1, 2}  \n```", "output") == "{1, 2}"
    assert fmt.last_block("```py\ndef f(a):\n    return a\n```", "python") == (
        "def f(a):\n    return a"
    )
    assert fmt.last_block("```\n\n    x = 1\n    y = 2\n```", "python") == "    x = 1\n    y = 2"
    assert fmt.last_block("```inputs\n1\n```", "input") is None
    # Blocks pair up left to right: a ```python fence is not an ```input block.
    text = "```python\ndef f(a):\n    return a\n```\n```input\n'x'\n```"
    assert fmt.last_block(text, "python") == "def f(a):\n    return a"
    assert fmt.last_block(text, "input") == "'x'"


@pytest.mark.parametrize("fmt_name", FORMATS)
def test_induction_proposal_blocks(fmt_name: str) -> None:
    fmt = get_format(fmt_name)
    inputs = [f"{i}, 'a{i}'" for i in range(10)]
    body = "\n".join(f"```input\n{x}\n```" for x in inputs) + "\n```message\nsum them\n```"
    answer = fmt.extract_answer(answer_of(fmt_name, body))
    assert fmt.all_blocks(answer, "input") == inputs
    assert fmt.last_block(answer, "message") == "sum them"


def test_plain_fenceless_answer_is_one_block() -> None:
    fmt = PlainFormat()
    assert fmt.parse("I think it is 4.\nAnswer: 4", "output") == "4"
    assert fmt.all_blocks("", "output") == []
    assert R1Format().parse("<answer>4</answer>", "output") is None


# -- properties --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt_name", FORMATS)
@given(text=noisy_text, kind=st.sampled_from([*KINDS, "", "weird kind"]))
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_parsers_never_raise(fmt_name: str, text: str, kind: str) -> None:
    fmt = get_format(fmt_name)
    answer = fmt.extract_answer(text)
    assert answer is None or isinstance(answer, str)
    for candidate in (text, answer):
        blocks = fmt.all_blocks(candidate, kind)
        assert all(isinstance(b, str) for b in blocks)
        last = fmt.last_block(candidate, kind)
        assert last == (blocks[-1] if blocks else None)
    assert fmt.parse(text, kind) == fmt.last_block(answer, kind)


content_text = st.text(alphabet=st.characters(codec=None), max_size=200).filter(
    lambda c: c == c.strip() and c != "" and "`" not in c
)


@pytest.mark.parametrize("fmt_name", FORMATS)
@given(
    content=content_text,
    kind=st.sampled_from(KINDS),
    before=st.lists(st.tuples(st.sampled_from(KINDS), content_text), max_size=3),
    noise=noisy_text,
)
@settings(max_examples=300)
def test_embedded_block_round_trips(
    fmt_name: str, content: str, kind: str, before: list[tuple[str, str]], noise: str
) -> None:
    for piece in (content, *(c for _, c in before)):
        assume("<answer>" not in piece and "</answer>" not in piece)
    # Noise goes before the answer: R1 finds the last <answer>, plain the last "Answer:" line.
    if fmt_name == "r1":
        assume("<answer>" not in noise)
    else:
        assume("answer" not in noise.lower())
    blocks = "".join(f"```{k}\n{c}\n```\n" for k, c in before)
    completion = noise + answer_of(fmt_name, f"{blocks}```{kind}\n{content}\n```")
    fmt = get_format(fmt_name)
    assert fmt.parse(completion, kind) == content
    same_kind = [c for k, c in before if k == kind]
    assert fmt.all_blocks(fmt.extract_answer(completion), kind) == [*same_kind, content]


# -- linear time on megabytes ------------------------------------------------------------------

HUGE_INPUTS = {
    "fences": "```" * (5 * MB // 3),
    "fence_words": "```python" * (5 * MB // 9),
    "open_answers": "<answer>" * (5 * MB // 8),
    "close_answers": "</answer>" * (5 * MB // 9),
    "nested": "<answer>```input\n" * (5 * MB // 16) + "</answer>",
    "think_noise": "</think>" * (5 * MB // 8) + "<answer>```output\n1\n```</answer>",
    "answer_lines": "Answer:\n" * (5 * MB // 8),
    "spaces": " " * (5 * MB) + "x",
    "backticks_then_word": "```" + "a" * (5 * MB),
    "unicode": "\udc80\U0001f600İ\x00" * (5 * MB // 4),
    "mixed": ("<answer>```input\n'x'\n```\n Answer: ``` </think>" * (5 * MB // 45)),
}


@pytest.mark.parametrize("fmt_name", FORMATS)
@pytest.mark.parametrize("case", sorted(HUGE_INPUTS))
def test_parsers_linear_on_5mb(fmt_name: str, case: str) -> None:
    text = HUGE_INPUTS[case]
    fmt = get_format(fmt_name)
    started = time.perf_counter()
    answer = fmt.extract_answer(text)
    for kind in KINDS:
        fmt.last_block(text, kind)
        fmt.last_block(answer, kind)
    elapsed = time.perf_counter() - started
    assert elapsed < 20.0, f"{case}: {elapsed:.1f}s"


def test_block_parsing_5mb_is_fast() -> None:
    """A tighter bound on the worst case for the block scanner (one fence every 3 chars)."""
    started = time.perf_counter()
    R1Format().all_blocks("```" * (5 * MB // 3), "python")
    assert time.perf_counter() - started < 5.0


# -- rendering ---------------------------------------------------------------------------------

FIELDS = PromptFields(
    program="def f(xs):\n    return {x: 1 for x in xs}  # PROGRAM_MARK",
    input="[3, 'in{put}']",
    output="{3: 1, 'out': 1}",
    pairs=(("'p0_in'", "'p0_out'"), ("'p1_in'", "'p1_out'")),
    message="MESSAGE_MARK {not a placeholder}",
    references=(
        Reference(program="def f(a):\n    return a  # REF0", input="'r0_in'", output="'r0_out'"),
        Reference(program="def f(b):\n    return b  # REF1", input="'r1_in'", output="'r1_out'"),
    ),
    num_inputs=7,
    banned_keywords=("BANNED_MARK",),
)


@pytest.mark.parametrize("fmt_name", FORMATS)
def test_rendered_prompts_contain_their_fields(fmt_name: str) -> None:
    fmt = get_format(fmt_name)
    for task_type in (DEDUCTION, ABDUCTION):
        prompt = fmt.propose_prompt(task_type, FIELDS)
        for ref in FIELDS.references:
            assert ref.program in prompt and ref.input in prompt and ref.output in prompt
        assert "BANNED_MARK" in prompt and "```python" in prompt and "```input" in prompt
    prompt = fmt.propose_prompt(INDUCTION, FIELDS)
    assert FIELDS.program in prompt and "7" in prompt and "```message" in prompt
    prompt = fmt.solve_prompt(DEDUCTION, FIELDS)
    assert FIELDS.program in prompt and FIELDS.input in prompt
    prompt = fmt.solve_prompt(ABDUCTION, FIELDS)
    assert FIELDS.program in prompt and FIELDS.output in prompt
    prompt = fmt.solve_prompt(INDUCTION, FIELDS)
    assert FIELDS.message in prompt
    for inp, out in FIELDS.pairs:
        assert inp in prompt and out in prompt


def test_r1_prompts_follow_the_reference_template() -> None:
    fmt = R1Format()
    prompt = fmt.solve_prompt(DEDUCTION, FIELDS)
    assert prompt.startswith("A conversation between User and Assistant.")
    assert prompt.endswith("Assistant: <think>")
    assert "```output" in prompt and "<answer>" in prompt
    assert "```input" in fmt.solve_prompt(ABDUCTION, FIELDS)
    induction = fmt.solve_prompt(INDUCTION, FIELDS)
    assert "```input_1\n'p1_in'\n```" in induction and "```output_0\n'p0_out'\n```" in induction
    assert "<|YOUR INPUT WILL BE PLUGGED HERE|>" in fmt.propose_prompt(INDUCTION, FIELDS)
    assert "<snippet_1>" in fmt.propose_prompt(DEDUCTION, FIELDS)
    no_ban = fmt.propose_prompt(DEDUCTION, PromptFields())
    assert "Restricted usage" not in no_ban


# -- the protocol ------------------------------------------------------------------------------


def solve_deduction(fmt: PromptFormat, policy_reply: str) -> str | None:
    """What a task module does, written once against the protocol."""
    fmt.solve_prompt(DEDUCTION, FIELDS)
    return fmt.parse(policy_reply, "output")


def test_formats_are_interchangeable_through_the_protocol() -> None:
    r1_reply = "easy</think> <answer>```output\n{3: 1}\n```</answer>"
    plain_reply = "Easy.\nAnswer:\n```output\n{3: 1}\n```"
    assert solve_deduction(get_format("r1"), r1_reply) == "{3: 1}"
    assert solve_deduction(get_format("plain"), plain_reply) == "{3: 1}"
    assert solve_deduction(get_format("plain"), "Answer: {3: 1}") == "{3: 1}"


def test_registry() -> None:
    assert {"r1", "plain"} <= set(available_formats())
    assert isinstance(get_format(), R1Format)
    assert get_format("r1") is not get_format("r1")
    with pytest.raises(AZRConfigError, match="unknown prompt format"):
        get_format("nope")

    class Shouty(PlainFormat):
        name: ClassVar[str] = "shouty"

        def wrap(self, body: str) -> str:
            return body.upper()

    register_format("shouty", Shouty)
    assert get_format("shouty").solve_prompt(DEDUCTION, FIELDS).startswith("WHAT DOES")


def test_new_task_type_needs_only_a_template() -> None:
    class ToyFormat(R1Format):
        templates: ClassVar[dict[tuple[str, str], Renderer]] = dict(R1Format.templates)

    fmt = ToyFormat()
    with pytest.raises(AZRConfigError, match="no 'solve' template"):
        fmt.solve_prompt("error", FIELDS)
    ToyFormat.add_template("error", "solve", lambda f: f"Which error does {f.program} raise?")
    assert FIELDS.program in fmt.solve_prompt("error", FIELDS)
    assert ("error", "solve") not in R1Format.templates
    with pytest.raises(AZRConfigError):
        ToyFormat.add_template("error", "judge", lambda f: "")


@pytest.mark.parametrize("fmt_name", FORMATS)
def test_every_builtin_type_has_both_templates(fmt_name: str) -> None:
    fmt = get_format(fmt_name)
    for task_type in TASK_TYPES:
        assert fmt.propose_prompt(task_type, PromptFields())
        assert fmt.solve_prompt(task_type, PromptFields())
