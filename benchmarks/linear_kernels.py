"""Time of the embedded model's linear layers per decode step, in each CPU kernel torch offers.

Why: a decode step at batch 8-32 is mostly its linear layers (`benchmarks/rollout.py`'s
`linears` roofline), so generation can only beat that roofline with a cheaper kernel for the
same layers. This times all 211 linear layers of SmolLM2-135M (LM head included) as one chain at
each batch size, with:

- `fp32`: `F.linear` on the fp32 weights (what decoding uses);
- `bf16`: `F.linear` with bf16 weights and activations;
- `int8_weight_bf16` / `int8_weight_fp32`: `torch._weight_int8pack_mm` (int8 weights with a
  scale per output channel, dequantized inside the kernel) with bf16 or fp32 activations;
- `fp16_weight`: fbgemm's `quantized.linear_dynamic_fp16` (fp16 weights, fp32 arithmetic);
- `mkl_packed`: MKL's pre-packed sgemm (`mkl._mkl_linear`), packed for exactly that batch size
  (it falls back to plain sgemm for any other); its packed weights' size per batch size is
  reported too.

Each variant's time is the median of `--repeats` chains after one warm-up chain; the weights
are the model's (540 MB in fp32, more than the caches hold), so each chain reads them from
memory as decoding does. Appends one JSON record (commit, machine, date, command) to
benchmarks/results/linear_kernels.jsonl.

    python benchmarks/linear_kernels.py                    # batches 1 8 16 32, 5 repeats
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from azr_agents.policies import load_policy
from benchmarks.provenance import commit, machine

RESULTS = Path(__file__).parent / "results" / "linear_kernels.jsonl"


def _int8_per_channel(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scale = weight.abs().amax(dim=1).clamp(min=1e-8) / 127
    return torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8), scale


def chains(
    weights: list[torch.Tensor], batch: int
) -> tuple[dict[str, Callable[[], None]], float]:
    """One callable per variant that runs every linear layer once at `batch` rows, and the MiB
    of MKL's weights packed for that batch size."""
    inputs = {w.shape[1]: torch.randn(batch, w.shape[1]) for w in weights}
    bf16_weights = [w.to(torch.bfloat16) for w in weights]
    bf16_inputs = {k: v.to(torch.bfloat16) for k, v in inputs.items()}
    int8 = [_int8_per_channel(w) for w in weights]
    fp16 = [torch.ops.quantized.linear_prepack_fp16(w, None) for w in weights]
    packed = [torch.ops.mkl._mkl_reorder_linear_weight(w, batch) for w in weights]

    def fp32() -> None:
        for w in weights:
            F.linear(inputs[w.shape[1]], w)

    def bf16() -> None:
        for w in bf16_weights:
            F.linear(bf16_inputs[w.shape[1]], w)

    def int8_weight(activations: dict[int, torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            for q, scale in int8:
                x = activations[q.shape[1]]
                torch._weight_int8pack_mm(x, q, scale.to(x.dtype))

        return run

    def fp16_weight() -> None:
        for w, p in zip(weights, fp16, strict=True):
            torch.ops.quantized.linear_dynamic_fp16(inputs[w.shape[1]], p)

    def mkl_packed() -> None:
        for w, p in zip(weights, packed, strict=True):
            torch.ops.mkl._mkl_linear(inputs[w.shape[1]], p, w, None, batch)

    variants = {"fp32": fp32, "bf16": bf16, "int8_weight_bf16": int8_weight(bf16_inputs),
                "int8_weight_fp32": int8_weight(inputs), "fp16_weight": fp16_weight,
                "mkl_packed": mkl_packed}
    return variants, sum(p.numel() for p in packed) * 4 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 8, 16, 32])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model = load_policy(seed=0).model  # type: ignore[attr-defined]
    weights = [m.weight.detach().contiguous() for m in model.modules()
               if isinstance(m, torch.nn.Linear)]
    print(f"{len(weights)} linear layers, {sum(w.numel() for w in weights) / 1e6:.1f}M weights; "
          f"threads {torch.get_num_threads()}")
    rows = []
    with torch.inference_mode():
        for batch in args.batches:
            timings: dict[str, list[float]] = {}
            variants, packed_mib = chains(weights, batch)
            for name, run in variants.items():
                run()
                timings[name] = []
                for _ in range(args.repeats):
                    started = time.perf_counter()
                    run()
                    timings[name].append(round((time.perf_counter() - started) * 1000, 2))
            median = {k: statistics.median(v) for k, v in timings.items()}
            rows.append({"batch": batch, "median_ms": median, "runs_ms": timings,
                         "mkl_packed_mib": round(packed_mib)})
            print(f"batch {batch:>2}: " + "  ".join(f"{k} {v:.1f} ms" for k, v in median.items())
                  + f"  (MKL-packed weights {packed_mib:.0f} MiB)", flush=True)
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "commit": commit(), "machine": machine(),
        "command": "python benchmarks/linear_kernels.py " + " ".join(sys.argv[1:]),
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "results": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
