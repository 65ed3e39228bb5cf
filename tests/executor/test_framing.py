"""Result framing: frames round-trip, and no byte soup parses as a frame by accident."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azr_env.executor.sandbox import framing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=15,
)
messages = st.dictionaries(st.text(), json_values, max_size=5)


@given(st.lists(messages, min_size=1, max_size=4), st.integers(min_value=1, max_value=64))
def test_frames_round_trip_whatever_the_chunking(batch: list[dict[str, Any]], chunk: int) -> None:
    stream = b"".join(framing.pack(m) for m in batch)
    reader = framing.FrameReader(1 << 20)
    received = []
    for start in range(0, len(stream), chunk):
        reader.feed(stream[start : start + chunk])
        while (message := reader.pop()) is not None:
            received.append(message)
    assert received == batch
    assert reader.pending == 0


@given(st.binary(max_size=200))
def test_random_bytes_are_rejected_or_incomplete_never_a_message(junk: bytes) -> None:
    if junk.startswith(framing.MAGIC):
        return  # a genuine header prefix; covered by the tests below
    reader = framing.FrameReader(1 << 20)
    try:
        reader.feed(junk)
        assert reader.pop() is None
    except framing.FrameError:
        pass


def test_oversize_frames_are_refused_before_they_are_buffered() -> None:
    reader = framing.FrameReader(100)
    big = framing.pack({"x": "y" * 1000})
    with pytest.raises(framing.FrameError):
        reader.feed(big)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_bodies_that_are_not_json_objects_are_refused(body: bytes) -> None:
    reader = framing.FrameReader(1 << 20)
    reader.feed(framing.MAGIC + len(body).to_bytes(4, "big") + body)
    with pytest.raises(framing.FrameError):
        reader.pop()


def test_read_message_reports_a_closed_channel() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, framing.pack({"a": 1}))
    os.close(write_fd)
    reader = framing.FrameReader(1 << 20)
    assert framing.read_message(read_fd, reader) == {"a": 1}
    with pytest.raises(framing.FrameError, match="closed"):
        framing.read_message(read_fd, reader)
    os.close(read_fd)
