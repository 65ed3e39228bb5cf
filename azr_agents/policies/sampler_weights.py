"""The weights generation samples from, when they are not the trainable (master) weights.

Why a separate copy: on a CPU, decoding a batch of 16-32 rows is bound by reading the weights
(SmolLM2-135M in fp32 streams ~540 MB per decode step), so a copy that is cheaper to read
decodes faster. Two kinds:

- `bfloat16`: a bf16 copy of the whole model (half the bytes; on a CPU without AMX, bf16
  matmuls are not faster than fp32, so this mostly saves memory traffic);
- `int8`: every `nn.Linear` (the LM head included) but the MLP output projections
  (`FP32_LINEARS`) replaced by a dynamically quantized int8 linear layer (weights int8 with one
  scale per output channel, activations quantized per batch at run time; fbgemm kernels use
  AVX512-VNNI); embeddings and norms stay fp32.

Both are approximations: their log-probs differ from the master model's, so a trainer that
uses generation log-probs as PPO's pi_old recomputes them with the master model instead (see
`Policy.exact_logprobs` and `azr_agents.training.old_logprobs`). `sync` copies the master weights in
after each optimizer step (re-quantizing for int8).
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import torch

from azr_agents.policies.sharding import full_tensor

SAMPLER_DTYPES = ("bfloat16", "float16", "int8")
# Linears left in fp32 by `int8`: the MLP output projection's inputs carry the activation
# outliers of small LMs, which per-batch activation quantization flattens (on the embedded
# model, quantizing it made the sampler's next-token distribution unusable).
FP32_LINEARS = ("down_proj",)


def _quantized_linear_type() -> Any:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicQuantizedLinear

    return DynamicQuantizedLinear


def _quantize_per_channel(weight: torch.Tensor) -> torch.Tensor:
    """Symmetric int8 with one scale per output row: the rows of an LM's linears differ in range."""
    w = weight.detach().float()
    scales = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-8).double()
    zeros = torch.zeros(w.shape[0], dtype=torch.long)
    return torch.quantize_per_channel(w, scales, zeros, axis=0, dtype=torch.qint8)


def _int8_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of `model` with each `nn.Linear` a dynamically quantized int8 linear layer."""
    qlinear = _quantized_linear_type()
    linears = {
        name
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and name.rpartition(".")[2] not in FP32_LINEARS
    }
    # Copy everything but the linears' weights (they are quantized from the master's directly);
    # a weight tied to a non-linear module (the input embedding of a tied LM head) is copied.
    shared = {
        id(p)
        for m in model.modules()
        if not isinstance(m, torch.nn.Linear)
        for p in m.parameters(recurse=False)
    }
    memo: dict[int, Any] = {
        id(model.get_submodule(name).weight): None
        for name in linears
        if id(model.get_submodule(name).weight) not in shared
    }
    out = copy.deepcopy(model, memo)
    for name in linears:
        master = model.get_submodule(name)
        assert isinstance(master, torch.nn.Linear)
        parent_name, _, child = name.rpartition(".")
        parent = out.get_submodule(parent_name) if parent_name else out
        quantized = qlinear(master.in_features, master.out_features, dtype=torch.qint8)
        bias = master.bias.detach().float() if master.bias is not None else None
        quantized.set_weight_bias(_quantize_per_channel(master.weight), bias)
        setattr(parent, child, quantized)
    return out


class SamplerWeights:
    """A low-precision copy of `master` for sampling, kept in step with it by `sync`."""

    def __init__(self, master: torch.nn.Module, dtype: str) -> None:
        if dtype not in SAMPLER_DTYPES:
            raise ValueError(f"unknown sampler dtype {dtype!r}")
        self.master = master
        self.dtype = dtype
        with torch.no_grad():
            if dtype == "int8":
                with warnings.catch_warnings():  # torch.ao's eager quantization is deprecated
                    warnings.simplefilter("ignore")
                    self.model = _int8_copy(master)
            else:
                self.model = copy.deepcopy(master).to(getattr(torch, dtype))
        self.model.eval().requires_grad_(False)

    def sync(self) -> None:
        """Copy the master's current weights in (re-quantizing the int8 linears)."""
        qlinear = _quantized_linear_type() if self.dtype == "int8" else None
        master_params = dict(self.master.named_parameters())
        with torch.no_grad():
            for name, param in self.model.named_parameters():
                param.copy_(full_tensor(master_params[name]))  # whole, if sharded
            if qlinear is not None:
                for name, module in self.model.named_modules():
                    if isinstance(module, qlinear):
                        src = self.master.get_submodule(name)
                        assert isinstance(src, torch.nn.Linear)
                        bias = (
                            full_tensor(src.bias).detach().float() if src.bias is not None else None
                        )
                        module.set_weight_bias(_quantize_per_channel(full_tensor(src.weight)), bias)
