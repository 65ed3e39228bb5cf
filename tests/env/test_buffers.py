"""Task buffers and the task record: zero triplet, sampling, de-duplication, cap, persistence."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from azr_env.buffers import BufferConfig, TaskBuffer, TaskBuffers, load_jsonl, save_jsonl
from azr_env.errors import AZRConfigError
from azr_env.task import (
    ABDUCTION,
    DEDUCTION,
    INDUCTION,
    TASK_TYPES,
    ZERO_PROGRAM,
    ZERO_STEP,
    Task,
    normalize_input,
    normalize_program,
)
from azr_env.tasks.induction import ZERO_MESSAGE


def make(i: int, step: int = 0, task_type: str = DEDUCTION) -> Task:
    return Task(
        task_type=task_type,
        program=f"def f(x):\n    return x + {i}",
        inputs=(str(i),),
        outputs=(str(2 * i),),
        encoded=[["int", str(2 * i)]],
        step=step,
    )


def filled(n: int, step: int = 0, **config: object) -> TaskBuffer:
    buf = TaskBuffer(DEDUCTION, BufferConfig(zero=False, **config))  # type: ignore[arg-type]
    buf.extend(make(i, step) for i in range(n))
    return buf


# -- zero triplet ------------------------------------------------------------------------------


def test_every_buffer_starts_from_the_zero_task() -> None:
    buffers = TaskBuffers()
    assert buffers.sizes() == {t: 1 for t in TASK_TYPES}
    for task_type in (DEDUCTION, ABDUCTION):
        (task,) = buffers[task_type].tasks
        assert task.program == ZERO_PROGRAM == "def f(a):\n    return a"
        assert task.inputs == ("'Hello world'",) and task.outputs == ("'Hello world'",)
        assert task.step == ZERO_STEP
    (induction,) = buffers[INDUCTION].tasks
    assert induction.message == ZERO_MESSAGE == "Write a function that returns whatever you input"
    assert len(induction.inputs) >= 5 and len(set(induction.inputs)) == len(induction.inputs)
    assert induction.program == ZERO_PROGRAM
    with pytest.raises(AZRConfigError, match="seed tasks"):
        TaskBuffer("error")
    assert len(TaskBuffer("error", seed_tasks=[make(1, task_type="error")])) == 1
    assert len(TaskBuffer(DEDUCTION, BufferConfig(zero=False))) == 0


# -- sampling ----------------------------------------------------------------------------------


def test_sampling_is_reproducible_and_leaves_global_rngs_alone() -> None:
    buf = filled(100)
    np_state, py_state = np.random.get_state(), random.getstate()
    a = buf.sample_references(np.random.default_rng(7))
    b = buf.sample_references(np.random.default_rng(7))
    assert a == b and len(a) == 6 and len({t.id for t in a}) == 6
    assert buf.sample_solve(np.random.default_rng(3), 20) == buf.sample_solve(
        np.random.default_rng(3), 20
    )
    assert buf.sample_references(np.random.default_rng(8)) != a
    assert str(np.random.get_state()) == str(np_state)
    assert random.getstate() == py_state


def test_references_are_uniform() -> None:
    buf = filled(10)
    rng = np.random.default_rng(0)
    counts = dict.fromkeys((t.id for t in buf.tasks), 0)
    for _ in range(2000):
        for t in buf.sample_references(rng, k=3):
            counts[t.id] += 1
    assert all(500 < c < 700 for c in counts.values())  # expected 600 each


def test_references_when_buffer_is_small() -> None:
    buf = TaskBuffer(DEDUCTION)
    assert buf.sample_references(np.random.default_rng(0)) == list(buf.tasks)
    assert buf.sample_references(np.random.default_rng(0), k=0) == []


def test_solve_tasks_take_recent_additions_first() -> None:
    buf = filled(20, step=1)
    recent = [make(100 + i, step=2) for i in range(3)]
    buf.extend(recent)
    rng = np.random.default_rng(0)
    picked = buf.sample_solve(rng, 8)
    assert len(picked) == 8
    assert set(picked[:3]) == set(recent)
    assert all(t in buf for t in picked[3:])
    few = buf.sample_solve(rng, 2)
    assert set(few) <= set(recent) and len(set(few)) == 2
    wide = TaskBuffer(DEDUCTION, BufferConfig(zero=False, recent_window=2), seed_tasks=buf.tasks)
    assert all(t.step >= 1 for t in wide.sample_solve(rng, 23))
    assert len(set(wide.sample_solve(rng, 23))) == 23  # all recent, without replacement


def test_solve_fills_up_beyond_buffer_size() -> None:
    buf = TaskBuffer(DEDUCTION)
    picked = buf.sample_solve(np.random.default_rng(0), 64)
    assert len(picked) == 64 and set(picked) == set(buf.tasks)
    assert buf.sample_solve(np.random.default_rng(0), 0) == []
    with pytest.raises(AZRConfigError, match="empty"):
        TaskBuffer(DEDUCTION, BufferConfig(zero=False)).sample_solve(np.random.default_rng(0), 1)


def test_induction_programs_come_from_deduction_and_abduction() -> None:
    buffers = TaskBuffers()
    buffers[DEDUCTION].extend(make(i) for i in range(5))
    buffers[ABDUCTION].extend(make(i, task_type=ABDUCTION) for i in range(5, 8))
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        (task,) = buffers.sample_programs(rng)
        assert task.task_type in (DEDUCTION, ABDUCTION)
        seen.add(task.id)
    assert len(seen) == 10  # 2 zero tasks + 8 added
    assert len(buffers.sample_programs(rng, k=100)) == 10


# -- de-duplication and cap --------------------------------------------------------------------


def test_duplicates_are_dropped_after_normalisation() -> None:
    buf = TaskBuffer(DEDUCTION)
    same = Task(
        task_type=DEDUCTION,
        program="def f(a):  # identity\n    return (a)\n",
        inputs=('"Hello world"',),
        outputs=("'Hello world'",),
        step=3,
    )
    assert same in buf
    assert buf.add(same) is False
    other_input = Task(DEDUCTION, ZERO_PROGRAM, ("'Hello'",), ("'Hello'",))
    assert buf.add(other_input) is True
    assert buf.extend([other_input, make(1), make(1)]) == 1
    assert len(buf) == 3
    with pytest.raises(AZRConfigError, match="buffer"):
        buf.add(make(9, task_type=ABDUCTION))


def test_cap_keeps_newest_by_default() -> None:
    buf = filled(5, cap=3)
    assert [t.inputs[0] for t in buf] == ["2", "3", "4"]
    assert make(0) not in buf
    assert buf.add(make(0)) is True  # evicted tasks may come back


def test_cap_keep_oldest_like_the_reference() -> None:
    buf = filled(5, cap=3, keep="oldest")
    assert [t.inputs[0] for t in buf] == ["0", "1", "2"]
    assert buf.add(make(9)) is False


def test_needs_seeding() -> None:
    buffers = TaskBuffers()
    assert buffers.needs_seeding(4) and not buffers.needs_seeding(1)
    for task_type in TASK_TYPES:
        buffers[task_type].extend(make(i, task_type=task_type) for i in range(3))
    assert not buffers.needs_seeding(4)
    assert buffers[DEDUCTION].needs_seeding(5)


@pytest.mark.parametrize(
    "config",
    [
        BufferConfig(cap=0),
        BufferConfig(keep="latest"),
        BufferConfig(num_references=-1),
        BufferConfig(recent_window=0),
    ],
)
def test_bad_config_raises(config: BufferConfig) -> None:
    with pytest.raises(AZRConfigError):
        TaskBuffer(DEDUCTION, config)


# -- persistence -------------------------------------------------------------------------------


def test_jsonl_round_trip(tmp_path: Path) -> None:
    buffers = TaskBuffers(config=BufferConfig(cap=50))
    buffers[DEDUCTION].extend(make(i, step=i) for i in range(10))
    odd = Task(
        task_type=INDUCTION,
        program="def f(s):\n    return s[::-1]  # ünïcödé \U0001f600",
        inputs=("'\\udc80'", "'\"q\"'", "b'\\x00'"),
        outputs=("'\\udc80'", "'\"q\"'", "b'\\x00'"),
        message="lone surrogate \udc80 and NUL \x00",
        encoded=[["str", "\udc80"], {"nan": "nan", "deep": [[[1]]]}, None],
        step=4,
    )
    buffers[INDUCTION].add(odd)
    path = tmp_path / "runs" / "buffers.jsonl"
    buffers.save(path)
    assert not list(path.parent.glob("*.tmp"))
    lines = path.read_text(encoding="ascii").splitlines()
    assert len(lines) == sum(buffers.sizes().values())
    assert json.loads(lines[0])["task_type"] == DEDUCTION

    loaded = TaskBuffers.load(path, BufferConfig(cap=50))
    assert loaded.sizes() == buffers.sizes()
    for task_type in TASK_TYPES:
        assert loaded[task_type].tasks == buffers[task_type].tasks
    assert loaded[INDUCTION].tasks[-1].encoded == odd.encoded
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    assert loaded[DEDUCTION].sample_solve(rng_a, 7) == buffers[DEDUCTION].sample_solve(rng_b, 7)

    single = tmp_path / "deduction.jsonl"
    buffers[DEDUCTION].save(single)
    assert TaskBuffer.load(single, DEDUCTION).tasks == buffers[DEDUCTION].tasks
    with pytest.raises(AZRConfigError, match="task_type"):
        TaskBuffer.load(path, DEDUCTION)


def test_loading_bad_files_says_where(tmp_path: Path) -> None:
    with pytest.raises(AZRConfigError, match="no buffer file"):
        load_jsonl(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    save_jsonl([make(1)], bad)
    bad.write_text(bad.read_text() + "\n{not json\n")
    with pytest.raises(AZRConfigError, match=":3: not valid JSON"):
        load_jsonl(bad)
    bad.write_text('{"task_type": "deduction", "program": "x"}\n')
    with pytest.raises(AZRConfigError, match=r":1: .*missing"):
        load_jsonl(bad)
    bad.write_text('{"task_type": "deduction", "program": "x", "inputs": "1", "outputs": ["1"]}\n')
    with pytest.raises(AZRConfigError, match="list of strings"):
        load_jsonl(bad)


def test_hand_written_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(
        '{"task_type": "abduction", "program": "def f(x):\\n    return x * 2",'
        ' "inputs": ["3"], "outputs": ["6"]}\n\n'
    )
    buffers = TaskBuffers.load(path)
    assert buffers.sizes() == {DEDUCTION: 0, ABDUCTION: 1, INDUCTION: 0}
    assert buffers[ABDUCTION].tasks[0].id  # derived from the content


# -- the task record ---------------------------------------------------------------------------


def test_task_validation_and_ids() -> None:
    with pytest.raises(AZRConfigError, match="one repr string per input"):
        Task(DEDUCTION, "def f(a): return a", ("1", "2"), ("1",))
    with pytest.raises(AZRConfigError, match="non-empty"):
        Task(DEDUCTION, "def f(a): return a", (), ())
    a = Task(DEDUCTION, "def f(a):\n    return a", ("'x'",), ("'x'",))
    b = Task(DEDUCTION, "def f(a): return a  # same", ('"x"',), ("'x'",), step=9)
    assert a.id == b.id and a.key == b.key
    assert Task(ABDUCTION, a.program, a.inputs, a.outputs).id != a.id
    assert a.input == "'x'" and a.output == "'x'"
    assert Task.from_json(a.to_json()) == a
    from_lists = Task(DEDUCTION, "p", ["1"], ["1"])  # type: ignore[arg-type]
    assert from_lists.inputs == ("1",)  # lists (e.g. from JSON) become tuples


@given(st.text())
def test_normalisers_never_raise(text: str) -> None:
    assert isinstance(normalize_program(text), str)
    assert isinstance(normalize_input(text), str)


def test_normalise_input_cannot_be_smuggled_out_of_the_call() -> None:
    assert normalize_input("1) + (2") == "1) + (2"
    assert normalize_input("1, b = 2") == "1, b=2"
    assert normalize_input("1,  ==  ") == "1, =="  # unparsable: only whitespace normalised
    assert normalize_input(" 1 ,  'a' ") == "1, 'a'"
    assert normalize_input("x=1") == "x=1"


def test_azr_env_parts_do_not_import_torch() -> None:
    code = (
        "import sys; import azr_env.formats, azr_env.buffers, azr_env.rewards, azr_env.task; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dedup_only_while_seeding_like_the_reference(tmp_path: Path) -> None:
    buf = TaskBuffer(DEDUCTION, BufferConfig(zero=False, dedup="seeding", cap=4))
    buf.seeding = True
    assert buf.extend([make(1), make(1), make(2)]) == 2  # the seed set is de-duplicated
    buf.seeding = False
    assert buf.extend([make(1), make(1)]) == 2  # later valid proposals are all kept
    assert [t.inputs[0] for t in buf] == ["1", "2", "1", "1"]
    assert buf.add(make(3)) and [t.inputs[0] for t in buf] == ["2", "1", "1", "3"]
    assert make(1) in buf  # one of the two copies was evicted, the other is still held
    assert buf.extend([make(4), make(5), make(6)]) == 3
    assert make(1) not in buf
    buffers = TaskBuffers([DEDUCTION], BufferConfig(dedup="seeding"))
    buffers.seeding = True
    assert buffers[DEDUCTION].seeding and not buffers[DEDUCTION].add(buffers[DEDUCTION].tasks[0])
    buffers.seeding = False
    assert buffers[DEDUCTION].add(buffers[DEDUCTION].tasks[0])
    buffers.save(tmp_path / "b.jsonl")  # repeats survive a save and a load
    again = TaskBuffers.load(tmp_path / "b.jsonl", BufferConfig(dedup="seeding"), [DEDUCTION])
    assert len(again[DEDUCTION]) == 2
    assert len(TaskBuffers.load(tmp_path / "b.jsonl", task_types=[DEDUCTION])[DEDUCTION]) == 1
    snapshot = (make(7), make(7))
    buf.restore(snapshot)
    assert buf.tasks == snapshot
    with pytest.raises(AZRConfigError, match="dedup"):
        TaskBuffer(DEDUCTION, BufferConfig(dedup="never"))
