"""Rollout throughput: `Policy.generate` (each decode variant) vs naive `model.generate`, and a
matmul-bound roofline, all measured side by side in one run.

Why: on CPU machines generation is the cost of every self-play step, so this is the figure that
decides how much self-play a user can afford. Two workloads on the embedded SmolLM2-135M:

- `short`: ~30-token Python prompts fed raw (the completion format of the `cpu-learn` preset);
  decode-bound, nothing to share;
- `long`: R1-template prompts as the `cpu-smoke` preset writes them (chat template, shared
  instructions + 1-3 reference snippets, ~420-660 tokens).

Every side samples at temperature 1.0, top-p 1.0, and stops only at EOS (no stop strings, so
no side wins by stopping early); tokens/s counts real generated tokens over wall time including
prefill. Variants: `naive` (`model.generate`, padded batch, `DynamicCache`), `fp32` (the
default `Policy.generate`), `fp32-model` (the same, each decode step through `model(...)`
instead of `decode_step.py`: `direct_decode=False`), `int8` (`generation_dtype="int8"`,
opt-in, approximate: its sampled tokens' log-probs are recomputed with the fp32 model and the
mean KL(sampler || fp32) per token is reported). Two rooflines, timed in the same run:

- `peak`: FLOP/s of a large fp32 matmul (1024x2048 @ 2048x2048) / (2 x parameters) = the
  tokens/s a decode step would reach if it were one big matmul at that rate (`peak_bf16`: the
  same in bf16, recorded to show whether bf16 weights could help on this CPU);
- `linears`: the model's own linear layers (LM head included) run as one chain of fp32 matmuls
  at the batch size (no attention, no overhead): batch / chain time = the matmul-bound decode
  tokens/s at that batch (it includes weight-reading costs the peak figure ignores).

The machine is shared, so each batch size runs the variants interleaved `--repeats` times
(naive, fp32, int8, rooflines, naive, ...); the table shows medians, the results file every run.
Appends one JSON record per workload (commit, machine, date, command) to
benchmarks/results/rollout.jsonl.

    python benchmarks/rollout.py                      # both workloads, batches 1 8 16 32
    python benchmarks/rollout.py --quick              # batches 1 8, 16 new tokens, 1 repeat
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from azr_agents.policies import load_policy
from azr_agents.policies.config import PolicyConfig
from azr_agents.policies.transformers_backend import TransformersPolicy
from benchmarks.provenance import commit, machine

RESULTS = Path(__file__).parent / "results" / "rollout.jsonl"

INSTRUCTIONS = """## Task: Create a Python Code Snippet (where custom classes are allowed) \
and one matching Input

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
"""

SNIPPETS = [
    'def f(a):\n' '    return a',
    'def f(s: str) -> str:\n' "    return ''.join(reversed(s.split()))",
    (
        'def f(nums):\n' '    total = 0\n' '    for i, n in enumerate(nums):\n'
        '        total += n * (i % 3)\n' '    return total'
    ),
    (
        'def f(d: dict, k):\n' '    seen = set()\n' '    while k in d and k not in seen:\n'
        '        seen.add(k)\n' '        k = d[k]\n' '    return k'
    ),
    (
        'def f(n):\n' '    a, b = 0, 1\n' '    for _ in range(n):\n'
        '        a, b = b, (a + b) % 97\n' '    return a'
    ),
    'def f(grid):\n' '    return [sum(row) for row in zip(*grid)]',
    (
        'class Stack:\n' '    def __init__(self):\n' '        self.items = []\n' '\n'
        'def f(ops):\n' '    s = Stack()\n' '    for op in ops:\n'
        "        if op == 'pop' and s.items:\n" '            s.items.pop()\n' '        else:\n'
        '            s.items.append(op)\n' '    return s.items'
    ),
    (
        'def f(text, width):\n' "    lines, cur = [], ''\n" '    for w in text.split():\n'
        '        if len(cur) + len(w) > width:\n' '            lines.append(cur.strip())\n'
        "            cur = ''\n" "        cur += w + ' '\n" '    return lines + [cur.strip()]'
    ),
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


SHORT_BODIES = [
    "def f(nums):\n    return sorted(nums)[::2]\n\nassert f([5, 3, 8, 1]) ==",
    "def f(s):\n    return s.upper() + s[::-1]\n\nassert f('abc') ==",
    "def f(n):\n    return sum(i * i for i in range(n))\n\nassert f(4) ==",
    "def f(d):\n    return {v: k for k, v in d.items()}\n\nassert f({'a': 1}) ==",
    "def f(a, b):\n    return [x for x in a if x not in b]\n\nassert f([1, 2, 3], [2]) ==",
    "def f(text):\n    return len(text.split())\n\nassert f('a b c') ==",
]


def short_prompts(count: int, seed: int = 0) -> list[str]:
    """~30-token Python prompts for the completion format (no shared prefix worth sharing)."""
    rng = random.Random(seed)
    return [f"# Example {rng.randint(1, 999)}\n{rng.choice(SHORT_BODIES)}" for _ in range(count)]


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
    eos = set(policy._eos_ids)
    count = 0
    for row in out[:, width:].tolist():
        ends = [i for i, t in enumerate(row) if t in eos]
        count += ends[0] + 1 if ends else len(row)
    return count


def policy_generate(
    policy: TransformersPolicy, prompts: list[str], max_new_tokens: int
) -> tuple[int, float]:
    """Tokens generated, and for an approximate sampler the mean KL(sampler || fp32) per token."""
    gens = policy.generate(prompts, max_new_tokens, 1.0, stop=[])
    tokens = sum(len(g.token_ids) for g in gens)
    if policy.exact_logprobs:
        return tokens, 0.0
    with torch.no_grad():
        fp32 = policy.logprobs([prompts[g.prompt_index] for g in gens], [g.token_ids for g in gens])
    gap = 0.0
    for row, g in enumerate(gens):
        gap += sum(g.logprobs) - float(fp32.logprobs[row, : len(g.token_ids)].sum())
    return tokens, gap / max(tokens, 1)


def peak_gflops(dtype: torch.dtype = torch.float32) -> float:
    """GFLOP/s of one large matmul (the compute roof; bf16 to show whether it would be faster)."""
    a, b = torch.randn(1024, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
    a @ b
    start = time.perf_counter()
    for _ in range(4):
        a @ b
    return 4 * 2 * 1024 * 2048 * 2048 / (time.perf_counter() - start) / 1e9


def linear_chain_seconds(model: Any, batch: int) -> float:
    """Time of one pass of the model's linear layers as fp32 matmuls at `batch` rows."""
    weights = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    inputs = {w.shape[1]: torch.randn(batch, w.shape[1]) for w in weights}
    with torch.inference_mode():
        for w in weights[:8]:
            inputs[w.shape[1]] @ w.t()
        start = time.perf_counter()
        for w in weights:
            inputs[w.shape[1]] @ w.t()
        return time.perf_counter() - start


def measure(fn: Any) -> tuple[Any, float, float]:
    with PeakRSS() as rss:
        start = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - start
    return value, seconds, rss.peak_mb


def run_workload(
    name: str,
    base: Any,
    prompts_pool: list[str],
    chat: bool,
    batches: list[int],
    variants: list[str],
    max_new: int,
    repeats: int,
    params: int,
) -> list[dict[str, Any]]:
    policies = {v: TransformersPolicy(base.model, base.tokenizer, PolicyConfig(
        chat_template=chat, seed=0, direct_decode=v != "fp32-model",
        generation_dtype=v if v in ("int8", "bfloat16") else "auto"))
        for v in variants}
    any_policy = policies[variants[0]]
    lengths = [len(any_policy.encode(p)) for p in prompts_pool]
    print(f"\n[{name}] prompt tokens {min(lengths)}-{max(lengths)}, chat_template={chat}, "
          f"{max_new} new tokens max, {repeats} repeats, variants {variants}", flush=True)
    for v, policy in policies.items():  # warm-up: allocator, oneDNN kernels
        if v == "naive":
            naive_generate(policy, prompts_pool[:2], 4)
        else:
            policy.generate(prompts_pool[:2], 4, 1.0, stop=[])
    rows = []
    for batch in batches:
        prompts = prompts_pool[:batch]
        runs: dict[str, list[dict[str, float]]] = {
            v: [] for v in [*variants, "peak", "peak_bf16", "linears"]
        }
        for _ in range(repeats):
            for v in variants:
                if v == "naive":
                    result = measure(
                        lambda p=prompts: (naive_generate(policies["naive"], p, max_new), 0.0)
                    )
                else:
                    result = measure(
                        lambda p=prompts, v=v: policy_generate(policies[v], p, max_new)
                    )
                (tokens, kl), seconds, rss = result
                runs[v].append(
                    {
                        "tokens": tokens,
                        "s": round(seconds, 3),
                        "tok_s": round(tokens / seconds, 1),
                        "peak_rss_mb": round(rss),
                        **({"sampler_kl": round(kl, 5)} if kl else {}),
                    }
                )
            gflops = peak_gflops()
            runs["peak"].append(
                {"gflops": round(gflops, 1), "tok_s": round(gflops * 1e9 / (2 * params), 1)}
            )
            gflops = peak_gflops(torch.bfloat16)
            runs["peak_bf16"].append(
                {"gflops": round(gflops, 1), "tok_s": round(gflops * 1e9 / (2 * params), 1)}
            )
            chain = linear_chain_seconds(base.model, batch)
            runs["linears"].append({"s": round(chain, 4), "tok_s": round(batch / chain, 1)})
        med = {k: statistics.median(r["tok_s"] for r in v) for k, v in runs.items()}
        row: dict[str, Any] = {"workload": name, "batch": batch, "median_tok_s": med, "runs": runs}
        if "naive" in med:
            row["ratio_to_naive"] = {
                v: round(med[v] / med["naive"], 2) for v in variants if v != "naive"
            }
        row["fraction_of_linears_roofline"] = {
            v: round(med[v] / med["linears"], 2) for v in variants
        }
        rows.append(row)
        cells = "  ".join(f"{v} {med[v]:.1f}" for v in variants)
        ratios = "  ".join(f"{v}/naive {r:.2f}x" for v, r in row.get("ratio_to_naive", {}).items())
        kls = {v: [r["sampler_kl"] for r in runs[v] if "sampler_kl" in r] for v in variants}
        kl_text = "".join(f"  | {v} KL/token {statistics.median(k):.4f}"
                          for v, k in kls.items() if k)
        print(
            f"batch {batch:>2}: tok/s {cells}  | roofline peak {med['peak']:.0f}, "
            f"linears {med['linears']:.0f}  | {ratios}{kl_text}",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="batches 1 and 8, 16 new tokens, 1 repeat"
    )
    parser.add_argument("--batches", type=int, nargs="*", default=None)
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--workloads", nargs="*", default=["short", "long"], choices=["short", "long"]
    )
    parser.add_argument("--variants", nargs="*", default=["naive", "fp32", "int8"],
                        help="naive, fp32 (default Policy.generate), fp32-model (with "
                             "direct_decode=False), int8, bfloat16")
    args = parser.parse_args()
    batches = args.batches or ([1, 8] if args.quick else [1, 8, 16, 32])
    max_new = args.max_new_tokens or (16 if args.quick else 128)
    repeats = args.repeats or (1 if args.quick else 3)

    started = time.perf_counter()
    code_commit = commit()  # the code that runs (HEAD may move while a long run goes on)
    base = load_policy(seed=0)
    params = sum(p.numel() for p in base.model.parameters())
    print(f"model: embedded SmolLM2-135M-Instruct ({params / 1e6:.1f}M parameters)  threads: "
          f"{torch.get_num_threads()}  load: {time.perf_counter() - started:.1f}s", flush=True)
    torch.manual_seed(0)
    count = max(batches)
    pools = {"short": (short_prompts(count), False), "long": (azr_prompts(count), True)}
    for name in args.workloads:
        pool, chat = pools[name]
        loadavg = os.getloadavg()
        rows = run_workload(
            name, base, pool, chat, batches, args.variants, max_new, repeats, params
        )
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "commit": code_commit,
            "machine": machine(),
            "command": "python benchmarks/rollout.py " + " ".join(sys.argv[1:]),
            "workload": name,
            "max_new_tokens": max_new,
            "repeats": repeats,
            "temperature": 1.0,
            "top_p": 1.0,
            "stop": "EOS only",
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "loadavg_before": loadavg,
            "loadavg_after": os.getloadavg(),
            "results": rows,
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as f:  # one record per workload, as soon as it is measured
            f.write(json.dumps(record) + "\n")
        print(f"load average before {loadavg[0]:.2f}, after {record['loadavg_after'][0]:.2f} "
              "(2 cores shared with other work)", flush=True)


if __name__ == "__main__":
    main()
