"""Writes `probe.jsonl`: the held-out probe set of `azr bench learning` (run it to regenerate).

Simple, varied Python functions that no training step ever shows: 40 templates over integers,
strings, lists and dicts (arithmetic, indexing, slicing, methods, conditionals, loops,
comprehensions), each instantiated three times with different constants and inputs from a fixed
seed. The outputs are computed by the sandboxed executor, like every output in azr.
Deterministic: the same file on every run.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from azr_env.executor import Executor

# (program template, input generator). `{a}`, `{b}` are small constants drawn per instance.
TEMPLATES: list[tuple[str, str]] = [
    ("def f(x):\n    return x + {a}", "int"),
    ("def f(x):\n    return x * {a} - {b}", "int"),
    ("def f(x):\n    return x // {a}", "int"),
    ("def f(x):\n    return x % {a}", "int"),
    ("def f(x):\n    return -x + {a}", "int"),
    ("def f(x, y):\n    return x + y * {a}", "int2"),
    ("def f(x, y):\n    return max(x, y) - {a}", "int2"),
    ("def f(x):\n    if x > {a}:\n        return x - {a}\n    return {a} - x", "int"),
    ("def f(x):\n    return x * x + {a}", "int"),
    ("def f(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total",
     "small"),
    ("def f(s):\n    return s + '{w}'", "str"),
    ("def f(s):\n    return s.upper()", "str"),
    ("def f(s):\n    return len(s) + {a}", "str"),
    ("def f(s):\n    return s[{a}:]", "str"),
    ("def f(s):\n    return s[:{a}]", "str"),
    ("def f(s):\n    return s[::-1]", "str"),
    ("def f(s):\n    return s * {a}", "short"),
    ("def f(s):\n    return s.replace('{c}', '{d}')", "str"),
    ("def f(s):\n    return s.count('{c}')", "str"),
    ("def f(s):\n    return s[0] + s[-1]", "str"),
    ("def f(s):\n    return '{w}' in s", "str"),
    ("def f(s):\n    return s.split('{c}')", "str"),
    ("def f(a):\n    return a[0] + {a}", "list"),
    ("def f(a):\n    return sum(a)", "list"),
    ("def f(a):\n    return len(a) * {a}", "list"),
    ("def f(a):\n    return a[::-1]", "list"),
    ("def f(a):\n    return sorted(a)", "list"),
    ("def f(a):\n    return max(a) - min(a)", "list"),
    ("def f(a):\n    return [x * {a} for x in a]", "list"),
    ("def f(a):\n    return [x for x in a if x > {a}]", "list"),
    ("def f(a):\n    return a + [{a}]", "list"),
    ("def f(a):\n    return a[-1]", "list"),
    ("def f(a, x):\n    return a.count(x)", "listx"),
    ("def f(a, x):\n    return x in a", "listx"),
    ("def f(d):\n    return d['{k}'] + {a}", "dict"),
    ("def f(d):\n    return sorted(d.keys())", "dict"),
    ("def f(d):\n    return sum(d.values())", "dict"),
    ("def f(d):\n    return len(d) + {a}", "dict"),
    ("def f(x):\n    return [x] * {a}", "small"),
    ("def f(x):\n    return str(x) + '{w}'", "int"),
]

WORDS = ("cat", "sun", "apple", "code", "blue", "tree", "moon", "zebra", "hello", "paper")
LETTERS = "aeionrst"
KEYS = ("a", "b", "c")


def make_input(kind: str, rng: random.Random, params: dict[str, object]) -> str:
    word = rng.choice(WORDS) + rng.choice(WORDS)
    values = [rng.randint(-3, 12) for _ in range(rng.randint(2, 5))]
    if kind == "int":
        return repr(rng.randint(-9, 20))
    if kind == "int2":
        return f"{rng.randint(-5, 15)}, {rng.randint(-5, 15)}"
    if kind == "small":
        return repr(rng.randint(0, 6))
    if kind == "str":
        return repr(word)
    if kind == "short":
        return repr(rng.choice(WORDS)[:2])
    if kind == "list":
        return repr(values)
    if kind == "listx":
        return f"{values!r}, {rng.choice([*values, 99])!r}"
    if kind == "dict":
        return repr({k: rng.randint(0, 9) for k in KEYS})
    raise ValueError(kind)


def build(seed: int = 20261130, per_template: int = 3) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for number, (template, kind) in enumerate(TEMPLATES):
        for instance in range(per_template):
            params = {"a": rng.randint(1, 4), "b": rng.randint(1, 9), "w": rng.choice(WORDS),
                      "c": rng.choice(LETTERS), "d": rng.choice(LETTERS).upper(),
                      "k": rng.choice(KEYS)}
            rows.append({"id": f"probe/{number:02d}-{instance}",
                         "program": template.format(**params),
                         "input": make_input(kind, rng, params)})
    # The outputs come from the executor that scores the probe, as every output in azr does.
    with Executor() as executor:
        results = executor.run_batch([(row["program"], row["input"]) for row in rows])
    for row, result in zip(rows, results, strict=True):
        if result.status != "ok" or result.value is None:
            raise RuntimeError(f"{row['id']}: {result.status} {result.error}")
        row["output"] = result.value
    return rows


if __name__ == "__main__":
    target = Path(__file__).with_name("probe.jsonl")
    target.write_text("".join(json.dumps(row) + "\n" for row in build()))
    print(f"wrote {target}")
