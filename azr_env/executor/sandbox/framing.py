"""Length-prefixed JSON frames: the only language spoken across a sandbox boundary.

A frame is `MAGIC` + a 4-byte big-endian length + that many bytes of UTF-8 JSON (an object).
Readers refuse anything else (wrong magic, oversize, bad JSON, not an object), so stray bytes a
program writes never parse as a result; who may write on which channel is the sandbox's business
(see `template.py`).
"""

from __future__ import annotations

import itertools
import json
import os
import select
import struct
import time
from typing import Any

from .codec import MAX_DEPTH

MAGIC = b"AZR1"
_HEADER = struct.Struct(">4sI")
HEADER_SIZE = _HEADER.size


MAX_JSON_DEPTH = 3 * MAX_DEPTH + 20
"""Deepest frame body accepted: a value tree takes up to three JSON levels per container level
(`["dict", [[key, value]]]`), and the payload around it a few more. Deeper messages are refused
here, so that no later walk of a message (or `pack` of it) recurses without bound."""


_NOT_BRACKETS_OR_QUOTES = bytes(b for b in range(256) if b not in b'[]{}"')
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(body: bytes) -> int:
    """How deeply a *valid* JSON text nests (brackets inside strings do not count).

    Call it after `json.loads` accepted the body: in valid JSON a backslash only ever starts a
    two-character escape, so dropping the escaped backslashes (left to right), then the escaped
    quotes, leaves quotes that only delimit strings; what lies between every other quote is
    outside all strings. Loops in C mostly: under 50 ms for a 1 MiB body of brackets.
    """
    kept = body.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_BRACKETS_OR_QUOTES)
    outside = b"".join(kept.split(b'"')[::2])
    return max(itertools.accumulate(map(_STEP.__getitem__, outside)), default=0)


class FrameError(Exception):
    """The byte stream is not a well-formed sequence of frames."""


def pack(message: dict[str, Any]) -> bytes:
    """Serialise one message into a frame (ASCII JSON: lone surrogates survive the trip)."""
    body = json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return _HEADER.pack(MAGIC, len(body)) + body


def write_all(fd: int, data: bytes) -> None:
    """Write every byte to a blocking fd (pipes may accept a large write in pieces)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FrameReader:
    """Incremental parser: feed it bytes as they arrive, take complete messages out."""

    def __init__(self, max_frame_bytes: int) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > self.max_frame_bytes + HEADER_SIZE:
            # Check early so an endless stream cannot grow the buffer without bound.
            self._check_header()
            raise FrameError("frame larger than the limit")

    def _check_header(self) -> int | None:
        if len(self._buffer) < HEADER_SIZE:
            return None
        magic, length = _HEADER.unpack_from(self._buffer)
        if magic != MAGIC:
            raise FrameError("bad frame magic")
        if length > self.max_frame_bytes:
            raise FrameError(f"frame of {length} bytes exceeds the limit of {self.max_frame_bytes}")
        return int(length)

    def pop(self) -> dict[str, Any] | None:
        """Return the next complete message, or None if more bytes are needed."""
        length = self._check_header()
        if length is None or len(self._buffer) < HEADER_SIZE + length:
            return None
        body = bytes(self._buffer[HEADER_SIZE : HEADER_SIZE + length])
        del self._buffer[: HEADER_SIZE + length]
        try:
            message = json.loads(body.decode("ascii"))
        except (UnicodeDecodeError, ValueError, RecursionError, MemoryError) as exc:
            raise FrameError(f"frame body is not JSON: {str(exc)[:200]}") from None
        # Two counts first: a body with fewer brackets than the limit cannot nest deeper.
        if (
            body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH
            and json_depth(body) > MAX_JSON_DEPTH
        ):
            raise FrameError(f"frame body is nested deeper than {MAX_JSON_DEPTH} levels")
        if not isinstance(message, dict):
            raise FrameError("frame body is not an object")
        return message

    @property
    def pending(self) -> int:
        """Bytes received but not yet returned as a message."""
        return len(self._buffer)


def read_message(fd: int, reader: FrameReader, deadline: float | None = None) -> dict[str, Any]:
    """Block until one whole message arrives on `fd` (EOF or deadline raise `FrameError`)."""
    while True:
        message = reader.pop()
        if message is not None:
            return message
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FrameError("timed out waiting for a frame")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            raise FrameError("channel closed")
        reader.feed(chunk)
