"""samples.jsonl on its own: the per-group cap, the prompt shortening, the resume truncation and
TensorBoard's markdown table (the trainer's use of it is in test_trainer.py)."""

from __future__ import annotations

import json
from pathlib import Path

from azr_agents.training.rollout import Sample
from azr_agents.training.samples import (
    PROMPT_CHARS,
    SamplesLogger,
    capped,
    markdown_tables,
    read_samples,
    shorten_prompt,
)


def sample(task_type: str, role: str, i: int, text: str = "x") -> Sample:
    info = {"reason": "no_answer", "answer": None, "proposal": {}, "task": {}}
    return Sample(prompt=f"prompt {i}", text=text, token_ids=[1, 2], logprobs=[0.0, 0.0],
                  reward=-1.0,
                  task_type=task_type, role=role, prompt_id=f"1:{task_type}:{role}:{i}", info=info,
                  advantage=0.5 if i else None)


def test_the_cap_keeps_the_first_samples_of_each_group() -> None:
    batch = [
        sample(t, r, i)
        for t in ("deduction", "abduction")
        for r in ("propose", "solve")
        for i in range(3)
    ]
    kept = capped(batch, 2)
    assert [(s.task_type, s.role, s.prompt_id[-1]) for s in kept] == [
        (t, r, str(i))
        for t in ("deduction", "abduction")
        for r in ("propose", "solve")
        for i in range(2)
    ]
    assert capped(batch, 0) == []


def test_long_prompts_keep_their_head_and_tail() -> None:
    short = "p" * PROMPT_CHARS
    assert shorten_prompt(short) == short
    long = "HEAD" + "m" * 5000 + "the task at the end"
    shown = shorten_prompt(long)
    assert shown.startswith("HEAD") and shown.endswith("the task at the end") and len(shown) < 2000
    assert f"[... {len(long) - 1500} characters ...]" in shown


def test_a_resume_drops_the_lines_after_its_checkpoint(tmp_path: Path) -> None:
    log = SamplesLogger(tmp_path, cap=2)
    for step in (1, 2, 3):
        records = log.log(step, [sample("deduction", "solve", i) for i in range(3)])
        assert len(records) == 2
    log.truncate_after(2)
    rows = read_samples(tmp_path / "samples.jsonl")
    assert [r["step"] for r in rows] == [1, 1, 2, 2]
    assert rows[0]["advantage"] is None and rows[1]["advantage"] == 0.5
    assert (
        json.loads((tmp_path / "samples.jsonl").read_text().splitlines()[0])["prompt_id"]
        == "1:deduction:solve:0"
    )


def test_the_tensorboard_table_escapes_what_would_break_it(tmp_path: Path) -> None:
    records = SamplesLogger(tmp_path, cap=5).log(
        1, [sample("induction", "propose", i, "a | b\nc") for i in range(5)]
    )
    tables = markdown_tables(records, rows=3)
    assert set(tables) == {"induction/propose"}
    lines = tables["induction/propose"].splitlines()
    assert len(lines) == 2 + 3 and all(line.count(" | ") == 5 for line in lines[2:])
    assert "a \\| b ⏎ c" in lines[2]
