"""Rollout throughput: `Policy.generate` vs naive `model.generate`, same model, prompts, batch.

Why: on CPU machines generation is the cost of every self-play step, so this is the figure that
decides how much self-play a user can afford. Both sides sample at temperature 1.0 (top-p 1.0)
from the embedded SmolLM2-135M-Instruct on AZR-like prompts (shared instructions + varying
reference programs, ~300-600 tokens). Tokens/s counts real generated tokens (up to EOS, or the
policy's default `</answer>` stop) over wall time including prefill. Peak RSS is sampled during
each measurement. Prints a table and appends one JSON line to benchmarks/results/rollout.jsonl.

    python benchmarks/rollout.py            # batches 1, 8, 16, 32; 128 new tokens (~6 min)
    python benchmarks/rollout.py --quick    # batches 1, 8; 32 new tokens (~1 min)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import torch

from azr_agents.policies import load_policy

RESULTS = Path(__file__).parent / "results" / "rollout.jsonl"

INSTRUCTIONS = """## Task: Create a Python Code Snippet (where custom classes are allowed) and one matching Input

Using the reference code snippets provided below as examples, design a new and unique Python code \
snippet that demands deep algorithmic reasoning to deduce one possible input from a given output. \
Your submission should include both a code snippet and a test input pair, where the input will be \
plugged into the code snippet to produce the output, which that function output be given to a test \
subject to come up with any input that will produce the same function output.

### Code Requirements:
- Name the entry function `f` (e.g., `def f(...): ...`), you can have nested definitions inside `f`
- Ensure the function returns a value
- Include at least one input parameter
- Make the function deterministic
- AVOID THE FOLLOWING: random functions or variables, date/time operations, I/O operations \
(reading files, network requests), printing or logging, any external state
- All imports and class definitions should be at the very top of the code snippet

### Input Requirements:
- Provide exactly one input for the function; arguments are comma-separated, in Python syntax

### Formatting:
- Format your code with: ```python
def f(...):
    # your code here
    return ...
```
- Format your input with: ```input
arg1, arg2, ...
```

First think about the reasoning process in <think> </think> tags, then give your answer in \
<answer> </answer> tags.

### Reference code snippets:
"""  # noqa: E501  (the reference prompt, verbatim)

SNIPPETS = [
    "def f(a):\n    return a",
    "def f(s: str) -> str:\n    return ''.join(reversed(s.split()))",
    "def f(nums):\n    total = 0\n    for i, n in enumerate(nums):\n        total += n * (i % 3)\n"
    "    return total",
    "def f(d: dict, k):\n    seen = set()\n    while k in d and k not in seen:\n"
    "        seen.add(k)\n        k = d[k]\n    return k",
    "def f(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, (a + b) % 97\n"
    "    return a",
    "def f(grid):\n    return [sum(row) for row in zip(*grid)]",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\ndef f(ops):\n"
    "    s = Stack()\n    for op in ops:\n        if op == 'pop' and s.items:\n"
    "            s.items.pop()\n        else:\n            s.items.append(op)\n    return s.items",
    "def f(text, width):\n    lines, cur = [], ''\n    for w in text.split():\n"
    "        if len(cur) + len(w) > width:\n            lines.append(cur.strip())\n"
    "            cur = ''\n        cur += w + ' '\n    return lines + [cur.strip()]",
]
INPUTS = ["'Hello world'", "[3, 1, 4, 1, 5]", "{'a': 'b', 'b': 'c'}, 'a'", "12", "[[1, 2], [3, 4]]"]


def azr_prompts(count: int, seed: int = 0) -> list[str]:
    """Deduction-propose-like prompts: shared instructions, 1-3 varying reference triplets."""
    rng = random.Random(seed)
    prompts = []
    for _ in range(count):
        refs = [
            f"<snippet_{i}>\n```python\n{rng.choice(SNIPPETS)}\n```\n```input\n{rng.choice(INPUTS)}\n```\n</snippet_{i}>"
            for i in range(rng.randint(1, 3))
        ]
        prompts.append(INSTRUCTIONS + "\n".join(refs))
    return prompts


class PeakRSS:
    """Samples this process's RSS every 20 ms while active; `peak_mb` is the maximum seen."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        proc = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def naive_generate(policy: Any, prompts: list[str], max_new_tokens: int) -> int:
    """`model.generate` on the same rendered prompts; returns the real generated tokens."""
    tokenizer, model = policy.tokenizer, policy.model
    ids = [policy.encode(p) for p in prompts]
    width = max(len(i) for i in ids)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(i)) + i for i in ids])
    attention = torch.tensor([[0] * (width - len(i)) + [1] * len(i) for i in ids])
    with torch.inference_mode():
        out = model.generate(
            input_ids=input_ids,
            attention_mask=attention,
            max_new_tokens=max_new_tokens,
            do_sample=True,
            temperature=1.0,
            top_p=1.0,
            top_k=0,
            pad_token_id=pad,
        )
    eos = tokenizer.eos_token_id
    count = 0
    for row in out[:, width:].tolist():
        count += row.index(eos) + 1 if eos in row else len(row)
    return count


def measure(fn: Any) -> tuple[int, float, float]:
    with PeakRSS() as rss:
        start = time.perf_counter()
        tokens = fn()
        seconds = time.perf_counter() - start
    return tokens, seconds, rss.peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="batches 1 and 8, 32 new tokens")
    parser.add_argument("--batches", type=int, nargs="*", default=None)
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument(
        "--generation-dtype", default="auto", help="policy option (auto|float32|bfloat16)"
    )
    args = parser.parse_args()
    batches = args.batches or ([1, 8] if args.quick else [1, 8, 16, 32])
    max_new = args.max_new_tokens or (32 if args.quick else 128)

    load_before = os.getloadavg()
    started = time.perf_counter()
    policy = load_policy(seed=0, generation_dtype=args.generation_dtype)
    load_s = time.perf_counter() - started
    torch.manual_seed(0)
    pool = azr_prompts(max(batches))
    lengths = [len(policy.encode(p)) for p in pool]
    policy.generate(pool[:2], 4, 1.0)  # warm-up: allocator, oneDNN kernels
    naive_generate(policy, pool[:2], 4)

    rows = []
    header = (f"{'batch':>5} {'naive tok/s':>11} {'policy tok/s':>12} {'ratio':>6} {'naive s':>8} "
              f"{'policy s':>8} {'naive RSS MB':>12} {'policy RSS MB':>13} {'tok/row n/p':>11}")
    print(
        f"model: embedded SmolLM2-135M-Instruct  threads: {torch.get_num_threads()}  load: "
        f"{load_s:.1f}s"
    )
    print(
        f"prompt tokens: min {min(lengths)} max {max(lengths)}  max_new_tokens: {max_new}  "
        f"generation_dtype: {args.generation_dtype}"
    )
    print(header)
    for batch in batches:
        prompts = pool[:batch]
        n_tok, n_s, n_rss = measure(
            lambda prompts=prompts: naive_generate(policy, prompts, max_new)
        )
        p_tok, p_s, p_rss = measure(
            lambda prompts=prompts: sum(
                len(g.token_ids) for g in policy.generate(prompts, max_new, 1.0)
            )
        )
        row = {
            "batch": batch,
            "naive_tokens": n_tok,
            "naive_s": round(n_s, 2),
            "naive_tok_s": round(n_tok / n_s, 1),
            "naive_peak_rss_mb": round(n_rss),
            "policy_tokens": p_tok,
            "policy_s": round(p_s, 2),
            "policy_tok_s": round(p_tok / p_s, 1),
            "policy_peak_rss_mb": round(p_rss),
            "ratio": round((p_tok / p_s) / (n_tok / n_s), 2),
        }
        rows.append(row)
        print(
            f"{batch:>5} {row['naive_tok_s']:>11} {row['policy_tok_s']:>12} {row['ratio']:>6} "
            f"{row['naive_s']:>8} "
            f"{row['policy_s']:>8} {row['naive_peak_rss_mb']:>12} {row['policy_peak_rss_mb']:>13} "
            f"{n_tok / batch:>5.0f}/{p_tok / batch:<5.0f}",
            flush=True,
        )
    load_after = os.getloadavg()
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (2 cores shared with "
        "other work)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": args.quick,
        "max_new_tokens": max_new,
        "generation_dtype": args.generation_dtype,
        "temperature": 1.0,
        "top_p": 1.0,
        "prompt_tokens": [min(lengths), max(lengths)],
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "results": rows,
    }
    with RESULTS.open("a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
