"""The generations reader, the input-call stripper and the scored-file writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from azr_agents.errors import AZRConfigError
from azr_agents.evaluation.cruxeval_format import (
    call_arguments,
    read_generations,
    read_scored,
    scored_document,
    write_scored,
)

IDS = {f"sample_{i}" for i in range(10)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("f(1, 'a')", "1, 'a'"),
        ("  f([1, (2, 3)], k={'x': ')'})  ", "[1, (2, 3)], k={'x': ')'}"),
        ("f(*[1, 2])", "*[1, 2]"),
        ("f()", ""),
        ("1, 'a'", "1, 'a'"),             # bare arguments stay
        ("f(1) + 1", "f(1) + 1"),         # not one call of f: left for the sandbox to judge
        ("g(1)", "g(1)"),
        ("f(1", "f(1"),                   # unparsable: left as is
        ("f('it''s')", "'it''s'"),
    ],
)
def test_call_arguments(text: str, expected: str) -> None:
    assert call_arguments(text) == expected


def test_round_trip(tmp_path: Path) -> None:
    generations = {"sample_0": ["[1]", "2"], "sample_3": ["'a'", "'b'"]}
    src = tmp_path / "gen.json"
    src.write_text(json.dumps(generations))
    assert read_generations(src, IDS) == generations
    out = tmp_path / "scored.json"
    write_scored(out, generations, {"sample_0": [True, False], "sample_3": [False, False]})
    doc = read_scored(out)
    assert doc["raw_generations"] == generations
    assert doc["raw_scored_generations"] == {"sample_0": [True, False], "sample_3": [False, False]}
    assert doc["pass_at_1"] == pytest.approx(25.0)  # a percentage, as CRUXEval writes it
    assert doc["pass_at_5"] is None                  # fewer than 5 samples: not measured


def test_pass_at_5_with_five_samples() -> None:
    doc = scored_document({"sample_0": ["x"] * 5}, {"sample_0": [False, False, True, False, False]})
    assert doc["pass_at_1"] == pytest.approx(20.0)
    assert doc["pass_at_5"] == pytest.approx(100.0)


def test_human_eval_jsonl_samples(tmp_path: Path) -> None:
    src = tmp_path / "samples.jsonl"
    src.write_text('{"task_id": "HumanEval/0", "completion": "    return 1\\n"}\n'
                   '{"task_id": "HumanEval/0", "completion": "    return 2\\n"}\n')
    assert read_generations(src, {"HumanEval/0"}) == {
        "HumanEval/0": ["    return 1\n", "    return 2\n"]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json at all", "is not JSON"),
        ("[1, 2]", "record 1"),
        ('"a string"', "expected a JSON object"),
        ('{"sample_0": 3}', "non-empty list of strings"),
        ('{"sample_0": []}', "non-empty list of strings"),
        ('{"sample_0": [1]}', "non-empty list of strings"),
        ('{"sample_0": ["1"], "sample_999": ["2"]}', "not in this suite"),
        ("{}", "holds no predictions"),
    ],
)
def test_bad_files_raise_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    src = tmp_path / "bad.json"
    src.write_text(content)
    with pytest.raises(AZRConfigError, match=message):
        read_generations(src, IDS)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AZRConfigError, match="cannot read"):
        read_generations(tmp_path / "absent.json", IDS)
