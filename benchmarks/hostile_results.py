"""Trusted-side cost of reading forged sandbox results, worst cases first.

A job can write its own result frame, so everything the trusted process does with the bytes a
sandbox returns (frame parsing, value-tree decoding, building the shown text, comparing with the
gold value) must finish in bounded time and never raise. This script forges the costliest frames
we know of, each at the largest size a frame may have (`ExecutorConfig.max_frame_bytes`, 1 MiB),
and times the trusted side's whole read of each: `FrameReader.pop`, `from_payload`, then
`trees_equal` against a small gold tree. No sandbox process is started.

    python benchmarks/hostile_results.py [--repeat 3]

Prints one line per case: the outcome (the result's status and reason, or the exception that
escaped) and the slowest of `--repeat` runs, and appends them (with the commit, machine, date and
command) to benchmarks/results/hostile_results.jsonl.
"""

from __future__ import annotations

import argparse
import inspect
import json
import random
import struct
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from azr_env.executor import ExecutorConfig
from azr_env.executor.result import from_payload
from azr_env.executor.sandbox import framing
from azr_env.executor.values import trees_equal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.provenance import commit, machine

RESULTS = Path(__file__).parent / "results" / "hostile_results.jsonl"

FRAME_BYTES = ExecutorConfig().max_frame_bytes
MAX_OUTPUT_CHARS = ExecutorConfig().max_output_chars
HASH_MODULUS = (1 << 61) - 1
"""Python hashes an int n as n mod 2**61 - 1: multiples of it all land in one hash bucket."""


def _frame(payload: dict[str, Any] | str) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    body = text.encode()
    return framing.MAGIC + struct.pack(">I", len(body)) + body


def _fill(make: Callable[[int], list[Any]], budget: int) -> list[Any]:
    """The largest list of `make(i)` items whose JSON fits in `budget` bytes."""
    item_size = len(json.dumps(make(10**6), separators=(",", ":"))) + 1
    return [make(i) for i in range(budget // item_size)]


def cases() -> dict[str, bytes]:
    room = FRAME_BYTES - 200
    hex_digits = room // 2 - 40
    ok = {"status": "ok", "value": "0", "id": 0}
    rng = random.Random(0)  # random digits: a gcd of such numbers takes quadratic time
    return {
        "flat list of ints (max frame)": _frame(
            dict(ok, encoded=["list", _fill(lambda i: ["int", hex(i)], room)])
        ),
        "set of colliding ints (max frame)": _frame(
            dict(ok, encoded=["set", _fill(lambda i: ["int", hex(i * HASH_MODULUS)], room)])
        ),
        "huge Fraction (max frame)": _frame(
            dict(
                ok,
                encoded=[
                    "Fraction",
                    hex(rng.getrandbits(4 * hex_digits) | 1),
                    hex(rng.getrandbits(4 * hex_digits) | 1),
                ],
            )
        ),
        "huge int (max frame)": _frame(dict(ok, encoded=["int", "0x" + "7" * (room - 40)])),
        "long value text (300k chars)": _frame(
            dict(ok, value="x" * 300_000, encoded=["int", "0x1"])
        ),
        "JSON nested 990 deep": _frame('{"status":"ok","encoded":' + "[" * 990 + "]" * 990 + "}"),
        "list nested 300 deep": _frame(dict(ok, encoded=_nested(300))),
        "Fraction with denominator 0": _frame(dict(ok, encoded=["Fraction", "0x1", "0x0"])),
        "deque with maxlen 2**100": _frame(dict(ok, encoded=["deque", [], 2**100])),
        "Decimal('pwned')": _frame(dict(ok, encoded=["Decimal", "pwned"])),
        "items nested 450 deep": _frame(
            '{"status":"ok","items":[' * 450
            + '{"status":"ok","encoded":["int","0x1"]}'
            + "]}" * 450
        ),
    }


def _nested(depth: int) -> list[Any]:
    tree: list[Any] = ["int", "0x1"]
    for _ in range(depth):
        tree = ["list", [tree]]
    return tree


def read(frame: bytes) -> str:
    """What the trusted side does with one frame; the outcome as text."""
    reader = framing.FrameReader(FRAME_BYTES)
    try:
        reader.feed(frame)
        payload = reader.pop()
    except framing.FrameError:
        return "refused by the frame reader (the job's verdict)"
    try:
        assert payload is not None
        if "max_output_chars" in inspect.signature(from_payload).parameters:
            result = from_payload(payload, 0.0, max_output_chars=MAX_OUTPUT_CHARS)
        else:
            result = from_payload(payload, 0.0)
        trees_equal(result.encoded, ["int", "0x1"])
    except Exception as exc:  # the point is to see what escapes
        return f"RAISED {type(exc).__name__}"
    value = result.value or ""
    return f"{result.status}/{result.reason} value={len(value)} chars"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per case (the slowest is shown)")
    args = parser.parse_args(argv)
    rows = []
    for name, frame in cases().items():
        times, outcome = [], ""
        for _ in range(args.repeat):
            started = time.perf_counter()
            outcome = read(frame)
            times.append(time.perf_counter() - started)
        print(f"{name:36s} {len(frame) / 1024:7.0f} KiB  {max(times) * 1000:9.1f} ms  {outcome}")
        rows.append({"case": name, "kib": round(len(frame) / 1024), "outcome": outcome,
                     "ms_each": [round(t * 1000, 1) for t in times]})
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": commit(),
        "machine": machine(),
        "command": "python benchmarks/hostile_results.py " + " ".join(sys.argv[1:]),
        "cases": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
