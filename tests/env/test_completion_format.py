"""The completion format: prompts end where the answer begins; continuations parse into blocks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azr_env.formats import PROPOSE, SOLVE, PromptFields, Reference, get_format
from azr_env.formats.completion import call_arguments, function_text

FMT = get_format("completion")
GROUPS = [(t, r) for t in ("deduction", "abduction", "induction") for r in (PROPOSE, SOLVE)]
IDENTITY = Reference("def f(a):\n    return a", "'Hello world'", "'Hello world'")


def test_solve_prompts_end_where_the_answer_begins() -> None:
    fields = PromptFields(program="def f(x):\n    return x - 1", input="5", output="4")
    assert FMT.render("deduction", SOLVE, fields).endswith(
        "def f(x):\n    return x - 1\nassert f(5) =="
    )
    assert FMT.render("abduction", SOLVE, fields).endswith("# f(?) == 4\nassert f(")
    induction = FMT.render("induction", SOLVE, PromptFields(pairs=(("1", "2"),), message="m"))
    assert induction.endswith("# f(1) == 2\n# hint: m\ndef f(")


def test_proposer_sees_its_references_and_is_topped_up_early() -> None:
    many = tuple(Reference(f"def f(a):\n    return a + {i}", str(i), str(2 * i)) for i in range(3))
    prompt = FMT.render("deduction", PROPOSE, PromptFields(references=many))
    assert all(r.program in prompt for r in many) and prompt.endswith("def f(")
    assert "a * b - b" not in prompt  # enough distinct references: no built-in example
    early = FMT.render("abduction", PROPOSE, PromptFields(references=(IDENTITY, IDENTITY)))
    assert early.count("def f(") == 3  # the zero task, one built-in example, the open entry


def test_induction_proposer_is_asked_for_num_inputs() -> None:
    prompt = FMT.render("induction", PROPOSE, PromptFields(program=IDENTITY.program, num_inputs=4))
    assert prompt.endswith(IDENTITY.program + "\n# input:")
    assert prompt.count("# input:") == 5  # four in the example, one opened for the answer


@pytest.mark.parametrize(("group", "completion", "kind", "expected"), [
    (("deduction", SOLVE), " [1, 2]\n\n", "output", ["[1, 2]"]),
    (("deduction", SOLVE), " 'a\\nb'\nassert f(2) == 3", "output", ["'a\\nb'"]),
    (("abduction", SOLVE), "3, 'x)') == 9\n\n", "input", ["3, 'x)'"]),
    (("abduction", SOLVE), "[1, (2, 3)], {'k': ')'}) == 0", "input", ["[1, (2, 3)], {'k': ')'}"]),
    (("induction", SOLVE), "x):\n    y = x * 2\n    return y\n\n# f(1)", "python",
     ["def f(x):\n    y = x * 2\n    return y"]),
    (("deduction", PROPOSE), "s):\n    return s[::-1]\n# input: 'abc'\n\n", "input", ["'abc'"]),
    (("abduction", PROPOSE), "s):\n    return s[::-1]\n# input: 'abc'\n\n", "python",
     ["def f(s):\n    return s[::-1]"]),
    (("induction", PROPOSE), " 1\n# input: 2\n# input: 'x'\n# message: doubles it\n\n", "input",
     ["1", "2", "'x'"]),
    (("induction", PROPOSE), " 1\n# input: 2\n# message: doubles it\n\n", "message",
     ["doubles it"]),
])
def test_continuations_parse_into_blocks(group: tuple[str, str], completion: str, kind: str,
                                         expected: list[str]) -> None:
    answer = FMT.extract(completion, *group)
    assert FMT.all_blocks(answer, kind) == expected


@pytest.mark.parametrize(("group", "completion"), [
    (("deduction", SOLVE), "\n\n"),
    (("deduction", SOLVE), "   \nassert"),
    (("abduction", SOLVE), "3, 4 == 7"),  # the call never closes on its line
    (("abduction", SOLVE), ") == 7"),  # no arguments
    (("abduction", SOLVE), "[1, 2) == 3"),  # a bracket closed by the wrong kind
    (("induction", SOLVE), "x):\n\n    return x"),  # no body before the blank line
    (("deduction", PROPOSE), "x):\n    return x\n\n"),  # no input line
    (("deduction", PROPOSE), "x):\n    return x\n# input:\n"),  # an empty input
    (("induction", PROPOSE), " 1\n# input: 2\n"),  # no message
])
def test_malformed_continuations_are_format_errors(group: tuple[str, str], completion: str) -> None:
    assert FMT.extract(completion, *group) is None


def test_a_value_with_fences_or_the_pack_prefix_stays_a_value() -> None:
    answer = FMT.extract(" '```output\\n1\\n```'\n", "deduction", SOLVE)
    assert FMT.last_block(answer, "output") == "'```output\\n1\\n```'"
    forged = FMT.extract_answer("\x00blocks:{not json")
    assert FMT.last_block(forged, "output") is None


def test_an_overlong_answer_line_is_not_read() -> None:
    assert FMT.extract(" " + "1" * 5000 + "\n", "deduction", SOLVE) is None


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400), st.sampled_from(GROUPS),
       st.sampled_from(["output", "input", "python", "message"]))
def test_parsing_never_raises(text: str, group: tuple[str, str], kind: str) -> None:
    answer = FMT.extract(text, *group)
    assert answer is None or isinstance(answer, str)
    blocks = FMT.all_blocks(answer, kind)
    assert all(isinstance(b, str) for b in blocks)
    assert FMT.last_block(answer, kind) in ([*blocks[-1:]] or [None])


_values = st.recursive(
    st.one_of(st.integers(), st.text(max_size=8), st.booleans(), st.none(),
              st.floats(allow_nan=False, allow_infinity=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                            st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_values, min_size=1, max_size=3), _values)
def test_gold_answers_parse_back(args: list[object], output: object) -> None:
    """What a perfect solver would write continues the prompt into exactly the gold text."""
    gold_args = ", ".join(repr(a) for a in args)
    assert call_arguments(f"{gold_args}) == {output!r}") == gold_args
    deduction = FMT.extract(f" {output!r}\n\n", "deduction", SOLVE)
    assert FMT.last_block(deduction, "output") == repr(output)
    abduction = FMT.extract(f"{gold_args}) == {output!r}\n\n", "abduction", SOLVE)
    assert FMT.last_block(abduction, "input") == gold_args
    proposal = FMT.extract(f"a):\n    return a\n# input: {gold_args}\n", "deduction", PROPOSE)
    assert FMT.last_block(proposal, "input") == gold_args


def test_function_text_keeps_helpers_and_stops_at_the_margin() -> None:
    text = "x):\n    return g(x)\ndef g(y):\n    return y + 1\nassert f(1) == 2"
    assert function_text(text) == "def f(x):\n    return g(x)\ndef g(y):\n    return y + 1"


def test_every_group_has_a_template() -> None:
    fields = PromptFields(program=IDENTITY.program, input="1", output="1", pairs=(("1", "1"),),
                          references=(IDENTITY,), num_inputs=4, message="m")
    for task_type, role in GROUPS:
        assert FMT.render(task_type, role, fields)


# -- through the env: the same rewards as any other format -----------------------------------
def _completion_solver(prompts: list[str]) -> list[str]:
    """Answers the zero task's identity function right, whatever the group."""
    return [" 'Hello world'\n\n" if p.endswith("==") else "'Hello world') == 'Hello world'\n\n"
            for p in prompts]


def test_env_scores_completions_by_group(make_env) -> None:  # type: ignore[no-untyped-def]
    env = make_env("deduction", "solve", format="completion")
    obs, _ = env.reset(seed=0)
    assert obs["prompt"].endswith("assert f('Hello world') ==")
    assert env.step(" 'Hello world'\n\n")[1] == 1.0
    env.reset()
    _, reward, *_, info = env.step(" 'Hello'\n\n")
    assert (reward, info["reason"]) == (-0.5, "wrong_value")  # well-formed but wrong
    env.reset()
    _, reward, *_, info = env.step("\n\n")
    assert reward == -1.0 and not info["format_ok"]
    abduction = make_env("abduction", "solve", format="completion")
    obs, _ = abduction.reset(seed=0)
    assert obs["prompt"].endswith("assert f(")
    assert abduction.step("'Hello world') == 'Hello world'\n\n")[1] == 1.0


def test_env_takes_completion_proposals_into_the_buffer(make_env) -> None:  # type: ignore[no-untyped-def]
    env = make_env("deduction", "propose", format="completion", solver=_completion_solver,
                   rewards={"mode": "paper", "num_samples": 2})
    obs, _ = env.reset(seed=0)
    assert obs["prompt"].endswith("def f(")
    _, reward, *_, info = env.step("a, b):\n    return a * 10 + b\n# input: 4, 2\n\n")
    assert info["format_ok"] and info["added_to_buffer"], info
    assert info["task"]["outputs"] == ["42"] and info["solve_rate"] == 0.0 and reward == 0.0
    induction = make_env("induction", "propose", format="completion", induction_inputs=4)
    induction.reset(seed=0)
    text = " 'a'\n# input: 'bc'\n# input: ''\n# input: 'xyz'\n# message: returns its input\n\n"
    _, reward, *_, info = induction.step(text)
    assert info["format_ok"] and info["task"]["outputs"] == ["'a'", "'bc'", "''", "'xyz'"], info
