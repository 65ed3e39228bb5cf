"""vLLM backend: generation on GPUs through vLLM, training on a transformers copy of the model.

How it runs (needs a CUDA GPU and `pip install 'azr[vllm]'`)::

    policy = load_policy("Qwen/Qwen2.5-7B", backend="vllm", vllm_gpu_memory_utilization=0.4)
    gens = policy.generate(prompts, max_new_tokens=1024, temperature=1.0)
    batch = policy.logprobs(prompts, [g.token_ids for g in gens])  # transformers, with grads
    ... loss.backward(); optimizer.step()
    policy.sync_weights()  # push the updated weights into the vLLM engine

The trainable weights live in `policy.model` (a transformers model on the same GPU); vLLM keeps
its own copy for fast sampling. After each optimizer step `sync_weights()` pushes the weights
into the engine the way OpenRLHF / TRL's colocated mode do: the engine's model
`load_weights(iterable of (hf_name, tensor))`, which accepts Hugging Face checkpoint names and
handles vLLM's fused layouts (qkv_proj, gate_up_proj) itself. We reach the model in-process
through `llm.llm_engine.model_executor.driver_worker...model_runner.model` when the engine runs
in this process, and otherwise through `LLM.collective_rpc`, which ships the tensors to every
worker (slower: pickled; fine for small models, use NCCL broadcast for large ones).

Sampled log-probs: we ask vLLM for the log-prob of each sampled token with
`logprobs_mode="processed_logprobs"` (vLLM >= 0.10.2), i.e. after temperature and top-p, which
is what `Policy.generate` promises. Older vLLM versions report raw-model log-probs instead; a
warning says so and the trainer should then recompute old log-probs with `logprobs()`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch

from azr_agents.errors import AZRConfigError
from azr_agents.policies.base import Generation, LogprobBatch
from azr_agents.policies.config import PolicyConfig
from azr_agents.policies.loading import resolve_model_source
from azr_agents.policies.sampling import validate_sampling
from azr_agents.policies.sharding import full_parameters

_WRAPPER_PREFIXES = ("_orig_mod.", "module.", "_fsdp_wrapped_module.")


def check_vllm_available(config: PolicyConfig) -> None:
    """Fail early, in one line, when this machine cannot run the vLLM backend."""
    if config.device not in ("auto",) and not config.device.startswith("cuda"):
        raise AZRConfigError(
            f"the vllm backend runs on CUDA GPUs only (device={config.device!r}); use "
            "backend='transformers'"
        )
    if not torch.cuda.is_available():
        raise AZRConfigError(
            "the vllm backend needs a CUDA GPU and none is visible; "
            "use backend='transformers' on CPU"
        )
    if config.vllm_tensor_parallel_size > torch.cuda.device_count():
        raise AZRConfigError(
            f"vllm_tensor_parallel_size={config.vllm_tensor_parallel_size} but only "
            f"{torch.cuda.device_count()} GPU(s) are visible; lower it"
        )
    try:
        import vllm  # noqa: F401
    except ImportError as exc:
        raise AZRConfigError("the vllm backend needs vLLM: pip install 'azr[vllm]'") from exc


def vllm_weight_items(
    named_parameters: Iterable[tuple[str, torch.Tensor]],
    tie_word_embeddings: bool,
    dtype: torch.dtype | None = None,
) -> Iterator[tuple[str, torch.Tensor]]:
    """Map a transformers model's parameters to what vLLM's `load_weights` expects.

    Names stay Hugging Face checkpoint names (vLLM maps them onto its fused layers), minus the
    prefixes that torch.compile / DDP / FSDP wrappers add. A tied `lm_head.weight` is skipped
    (vLLM ties it to the embedding itself). Tensors are detached and cast to the engine dtype.
    """
    for name, tensor in named_parameters:
        for prefix in _WRAPPER_PREFIXES:
            while name.startswith(prefix):
                name = name[len(prefix) :]
            name = name.replace("." + prefix, ".")
        if tie_word_embeddings and name == "lm_head.weight":
            continue
        data = tensor.detach()
        yield name, data.to(dtype) if dtype is not None and data.dtype != dtype else data


def _load_weights_on_worker(worker: Any, weights: list[tuple[str, torch.Tensor]]) -> None:
    """Runs inside each vLLM worker via `collective_rpc`."""
    worker.model_runner.model.load_weights(weights=weights)


class VLLMPolicy:
    """A `Policy` sampling with vLLM and computing log-probs with a transformers model."""

    def __init__(self, llm: Any, trainer_policy: Any, config: PolicyConfig) -> None:
        self.llm = llm
        self.config = config
        self._trainer = trainer_policy
        self.model = trainer_policy.model
        self.tokenizer = trainer_policy.tokenizer
        # vLLM's kernels (and its bf16 weights) are not the trainer's: its log-probs are an
        # approximation of pi_old, which the trainer recomputes by default (`optim.old_logprobs`).
        self.exact_logprobs = False

    @classmethod
    def from_config(cls, config: PolicyConfig) -> VLLMPolicy:
        """Check the GPU and vLLM first, then load the trainable model and the engine."""
        check_vllm_available(config)
        source = resolve_model_source(config.model)
        if source.gguf_file is not None:
            raise AZRConfigError(
                "the vllm backend needs a safetensors model folder or hub id, not a GGUF file"
            )
        from vllm import LLM

        from azr_agents.policies.transformers_backend import TransformersPolicy

        trainer = TransformersPolicy.from_config(config)
        kwargs: dict[str, Any] = {
            "model": source.path,
            "gpu_memory_utilization": config.vllm_gpu_memory_utilization,
            "tensor_parallel_size": config.vllm_tensor_parallel_size,
            "enforce_eager": config.vllm_enforce_eager,
            "dtype": "auto" if config.dtype == "auto" else config.dtype,
            "seed": config.seed or 0,
            "trust_remote_code": config.trust_remote_code,
        }
        if config.vllm_max_model_len is not None:
            kwargs["max_model_len"] = config.vllm_max_model_len
        try:
            llm = LLM(logprobs_mode="processed_logprobs", **kwargs)
        except TypeError:
            warnings.warn(
                "this vLLM version reports raw-model log-probs (no logprobs_mode); recompute old "
                "log-probs with policy.logprobs() when temperature != 1 or top_p < 1",
                stacklevel=2,
            )
            llm = LLM(**kwargs)
        return cls(llm, trainer, config)

    def encode(self, prompt: str) -> list[int]:
        """Prompt token ids, rendered exactly as for the transformers backend."""
        ids: list[int] = self._trainer.encode(prompt)
        return ids

    def sync_weights(self) -> None:
        """Push the trainable weights into the vLLM engine (call after each optimizer step)."""
        tie = bool(getattr(self.model.config, "tie_word_embeddings", False))
        weights = list(vllm_weight_items(full_parameters(self.model), tie))  # shards gathered
        try:
            engine_model = (
                self.llm.llm_engine.model_executor.driver_worker.worker.model_runner.model
            )
        except AttributeError:
            try:
                engine_model = self.llm.llm_engine.model_executor.driver_worker.model_runner.model
            except AttributeError:
                engine_model = None
        if engine_model is not None:
            engine_model.load_weights(weights=weights)
        else:
            self.llm.collective_rpc(_load_weights_on_worker, args=(weights,))
        if hasattr(self.llm, "reset_prefix_cache"):
            self.llm.reset_prefix_cache()  # cached KV was computed with the old weights

    def generate(
        self,
        prompts: list[str],
        max_new_tokens: int,
        temperature: float,
        top_p: float = 1.0,
        n: int = 1,
        stop: list[str] | None = None,
    ) -> list[Generation]:
        """Sample through vLLM; same contract as the transformers backend."""
        from vllm import SamplingParams, TokensPrompt

        validate_sampling(max_new_tokens, temperature, top_p, n)
        params = SamplingParams(
            n=n,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_new_tokens,
            stop=list(self.config.stop if stop is None else stop),
            include_stop_str_in_output=True,
            logprobs=0,
            seed=self.config.seed,
        )
        inputs = [TokensPrompt(prompt_token_ids=self._trainer.encode(p)) for p in prompts]
        outputs = self.llm.generate(inputs, params, use_tqdm=False)
        results = []
        for index, request in enumerate(outputs):
            for completion in request.outputs:
                ids = list(completion.token_ids)
                lps = [
                    float(step[tok].logprob)
                    for tok, step in zip(ids, completion.logprobs or [], strict=False)
                ]
                reason = "stop" if completion.finish_reason == "stop" else "length"
                results.append(Generation(completion.text, ids, lps, index, reason))
        return results

    def logprobs(
        self,
        prompts: list[str],
        completions: Sequence[str | Sequence[int]],
        temperature: float = 1.0,
        top_p: float = 1.0,
    ) -> LogprobBatch:
        """Recomputed by the transformers model (with gradients), see
        `TransformersPolicy.logprobs`."""
        result: LogprobBatch = self._trainer.logprobs(prompts, completions, temperature, top_p)
        return result
