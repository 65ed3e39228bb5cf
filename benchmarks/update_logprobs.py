"""Cost of one PPO micro-batch update: `Policy.logprobs` + backward on the embedded model.

Why: on CPU the update is half of a self-play step's time and most of its memory. This times
`logprobs` + `backward()` of a PPO-like loss for AZR-shaped micro-batches: 8 rows whose prompts
(~600 tokens) share a ~500-token instruction prefix, with 128-token completions. Peak RSS is
sampled every 20 ms during the call
(`PeakRSS` from rollout.py); the RSS before the call (model and tokenizer loaded) is printed too.
Appends one JSON record (commit, machine, date, command, every run) to
benchmarks/results/update_logprobs.jsonl.

    python benchmarks/update_logprobs.py                       # 8 rows, 1 warm-up + 2 timed runs
    python benchmarks/update_logprobs.py --rows 4 --repeats 1
    python benchmarks/update_logprobs.py --option gradient_checkpointing=true
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import psutil
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from azr_agents.policies import load_policy
from benchmarks.provenance import commit, machine
from benchmarks.rollout import INSTRUCTIONS, SNIPPETS, PeakRSS

RESULTS = Path(__file__).parent / "results" / "update_logprobs.jsonl"


def update_batch(
    policy: object, rows: int, shared_tokens: int, tail_tokens: int, completion_tokens: int
) -> tuple[list[str], list[list[int]]]:
    """Prompts = one shared instruction text (~shared_tokens) + a varying tail (~tail_tokens)."""
    tokenizer = policy.tokenizer  # type: ignore[attr-defined]
    rng = random.Random(0)
    shared = INSTRUCTIONS
    while len(tokenizer(shared)["input_ids"]) < shared_tokens:
        shared += "\n" + rng.choice(SNIPPETS)
    prompts = []
    for r in range(rows):
        tail = f"\n<snippet_{r}>\n"
        while len(tokenizer(tail)["input_ids"]) < tail_tokens:
            tail += rng.choice(SNIPPETS) + "\n"
        prompts.append(shared + tail)
    vocab = len(tokenizer)
    gen = torch.Generator().manual_seed(0)
    completions = [
        torch.randint(0, vocab, (completion_tokens - 8 * (r % 3),), generator=gen).tolist()
        for r in range(rows)
    ]
    return prompts, completions


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--shared-tokens", type=int, default=500)
    parser.add_argument("--tail-tokens", type=int, default=100)
    parser.add_argument("--completion-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--option", action="append", default=[], help="policy option key=value (bool/int/str)"
    )
    args = parser.parse_args()
    options: dict[str, object] = {}
    for item in args.option:
        key, value = item.split("=", 1)
        options[key] = {"true": True, "false": False}.get(value.lower(), value)

    policy = load_policy(seed=0, **options)
    policy.model.train()
    prompts, completions = update_batch(
        policy, args.rows, args.shared_tokens, args.tail_tokens, args.completion_tokens
    )
    encoded = [policy.encode(p) for p in prompts]
    common = 0
    while all(len(e) > common and e[common] == encoded[0][common] for e in encoded):
        common += 1
    print(
        f"rows {args.rows}  prompt tokens {min(map(len, encoded))}-{max(map(len, encoded))}  "
        f"common prefix {common}  completion tokens {min(map(len, completions))}-"
        f"{max(map(len, completions))}  threads {torch.get_num_threads()}  options {options}"
    )

    def step() -> float:
        policy.model.zero_grad(set_to_none=True)
        batch = policy.logprobs(prompts, completions, temperature=1.0, top_p=1.0)
        loss = -(batch.logprobs * batch.mask).sum() / batch.mask.sum()
        loss = loss - 1e-3 * (batch.entropies * batch.mask).sum() / batch.mask.sum()
        loss.backward()
        return float(loss.detach())

    rss_loaded = psutil.Process().memory_info().rss / 2**20
    step()  # warm-up: allocator, oneDNN kernels
    policy.model.zero_grad(set_to_none=True)
    rss_before = psutil.Process().memory_info().rss / 2**20
    print(f"RSS with the model loaded {rss_loaded:.0f} MiB, after the warm-up {rss_before:.0f} MiB")
    runs = []
    for _ in range(args.repeats):
        with PeakRSS() as rss:
            started = time.perf_counter()
            loss = step()
            seconds = time.perf_counter() - started
        tokens = sum(len(e) for e in encoded) + sum(len(c) for c in completions)
        print(
            f"logprobs+backward: {seconds:.2f} s  ({tokens / seconds:.0f} tokens/s)  "
            f"peak RSS {rss.peak_mb:.0f} MiB  loss {loss:.6f}",
            flush=True,
        )
        runs.append({"s": round(seconds, 2), "peak_rss_mib": round(rss.peak_mb), "loss": loss})
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "commit": commit(), "machine": machine(),
        "command": "python benchmarks/update_logprobs.py " + " ".join(sys.argv[1:]),
        "rows": args.rows, "options": {k: str(v) for k, v in options.items()},
        "prompt_tokens": [min(map(len, encoded)), max(map(len, encoded))], "common_prefix": common,
        "rss_loaded_mib": round(rss_loaded), "threads": torch.get_num_threads(), "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
