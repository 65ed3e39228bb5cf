"""The default backend: generation and log-probs with Hugging Face transformers, CPU or GPU.

Generation is our own sampling loop rather than `model.generate`, because on a CPU the naive
call spends most of its time on work a self-play batch does not need:
- the shared instructions at the start of every AZR prompt are prefilled once per batch, and
  identical prompts (n > 1 samples) once for all their samples (`share_prefix`);
- prompt suffixes are prefilled in left-padded groups of similar length (`_prefill_groups`:
  batched while padding costs less than the forward passes it saves, since a forward over few
  tokens is bound by reading the weights), then decoded together in one batch with a
  pre-allocated KV cache (`kv_cache.py`: no per-step `torch.cat` copies);
- Llama and Qwen2 models decode through `decode_step.py`: their layers called directly, without
  the per-call work of `model(...)`, and the shared prefix's keys and values held once and
  attended to once for all rows instead of copied into every row (`direct_decode`);
- a row stops at EOS or a stop string (`</answer>` by default) and leaves the batch at once;
- rows are ordered by prompt length (length bucketing) when there are more than
  `max_batch_size` of them.
Sampling stays exact: `sampling.py` draws each token from the tempered, top-p-restricted
distribution and returns that distribution's log-prob; `logprobs()` recomputes the same function.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from typing import Any

import torch

from azr_agents.errors import AZRConfigError
from azr_agents.policies.base import Generation, LogprobBatch
from azr_agents.policies.config import PolicyConfig
from azr_agents.policies.decode_step import DecodeStep
from azr_agents.policies.kv_cache import BufferCache, BufferLayer, PrefixCache
from azr_agents.policies.loading import (
    load_model_and_tokenizer,
    render_prompt,
    resolve_model_source,
    stop_token_ids,
)
from azr_agents.policies.sampler_weights import SamplerWeights
from azr_agents.policies.sampling import (
    entropy_from_logprobs,
    sample_next,
    sampling_logprobs,
    validate_sampling,
)
from azr_agents.policies.sharding import full_tensor

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# Shorter common prefixes are not worth a separate forward pass.
_MIN_SHARED_PREFIX = 16
# `logprobs` planning: the cost of one extra forward pass, in tokens (a guess; only tips close
# calls).
_PASS_COST = 32
# Generation prefill: padded tokens allowed per real token when batching prompts
# (`_prefill_groups`).
_PREFILL_PAD_RATIO = 1.25
# Rows of logits per chunk when finding the top-p nucleus (bounds that step's temporary memory).
_NUCLEUS_CHUNK = 256


def configure_threads(num_threads: int | None) -> int:
    """Use the cores this process may run on (containers often report the host's count)."""
    if num_threads is None:
        try:
            num_threads = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            num_threads = os.cpu_count() or 1
        num_threads = min(num_threads, torch.get_num_threads())
    torch.set_num_threads(num_threads)
    return num_threads


def resolve_device(device: str) -> torch.device:
    """'auto' is CUDA when available, else CPU; an explicit CUDA device needs one."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise AZRConfigError(
            f"device={device!r} but no CUDA GPU is visible; use device='cpu' or 'auto'"
        )
    return torch.device(device)


def _common_prefix_length(sequences: list[list[int]]) -> int:
    first = sequences[0]
    length = min(len(s) for s in sequences)
    for s in sequences[1:]:
        i = 0
        while i < length and s[i] == first[i]:
            i += 1
        length = i
    return length


def _prefill_groups(lengths: list[int]) -> list[list[int]]:
    """Prompts prefilled together, as index groups: batched when the padding costs less than
    the forward passes it saves.

    On a CPU a forward at small token counts is bound by reading the weights, so one padded
    forward over several short prompts is much cheaper than one forward each; with long prompts
    of varied length, padding them to the longest would cost more than it saves. Prompts are
    taken shortest first and a group grows while its padded tokens stay within
    `_PREFILL_PAD_RATIO` x its real tokens + `_PASS_COST`.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    for i in order:
        if groups:
            group = groups[-1]
            real = sum(lengths[j] for j in group) + lengths[i]
            padded = (len(group) + 1) * lengths[i]  # i is the longest so far
            if padded <= _PREFILL_PAD_RATIO * real + _PASS_COST:
                group.append(i)
                continue
        groups.append([i])
    return groups


def _layer_kv(cache: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


class TransformersPolicy:
    """A `Policy` over a `transformers` causal LM; `model` holds the trainable weights."""

    def __init__(self, model: Any, tokenizer: Any, config: PolicyConfig | None = None) -> None:
        self.config = config or PolicyConfig()
        self.model = model
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.device = next(model.parameters()).device
        if self.device.type == "cpu":
            configure_threads(self.config.num_threads)
        self._eos_ids = stop_token_ids(tokenizer, model)
        self._generator = torch.Generator(device=self.device)
        if self.config.seed is not None:
            self._generator.manual_seed(self.config.seed)
        else:
            self._generator.seed()
        master_dtype = next(model.parameters()).dtype
        wanted = self.config.generation_dtype
        self._sampler: SamplerWeights | None = None
        if wanted != "auto" and (wanted == "int8" or _DTYPES[wanted] != master_dtype):
            # A low-precision copy for sampling; the optimizer keeps updating the master weights.
            self._sampler = SamplerWeights(model, wanted)
        self._gen_model: Any = self._sampler.model if self._sampler is not None else model
        self.exact_logprobs = self._sampler is None
        """True when generation log-probs are the master model's own (up to float noise): a
        trainer may use them as PPO's pi_old; False means it should recompute them."""
        self._synced_versions = self._weight_versions()
        self.single_pass = False
        """One forward per `logprobs` call (a sharded model needs the same passes everywhere)."""
        if self.config.gradient_checkpointing:
            self._enable_gradient_checkpointing()

    def rng_state(self) -> torch.Tensor:
        """The sampling generator's state, for a checkpoint (a resumed run samples on exactly)."""
        return self._generator.get_state()

    def set_rng_state(self, state: torch.Tensor) -> None:
        """Restore a state from `rng_state`."""
        self._generator.set_state(state.cpu() if isinstance(state, torch.Tensor) else state)

    def _enable_gradient_checkpointing(self) -> None:
        """Checkpoint every decoder layer, keeping the read-only `PrefixCache` that logprobs passes.

        transformers drops the cache of a checkpointed layer, because a cache that appends would
        be appended to twice when backward re-runs the layer; `PrefixCache` never appends, which
        is what `_can_checkpoint_with_cache` declares. Generation runs without gradients, so
        its appending caches are never checkpointed.
        """
        if not getattr(self.model, "supports_gradient_checkpointing", False):
            raise AZRConfigError(
                f"{type(self.model).__name__} does not support gradient checkpointing; "
                "set gradient_checkpointing=False"
            )
        self.model.activation_checkpointing_enable(
            activation_checkpointing_kwargs={"use_reentrant": False}
        )
        for module in self.model.modules():
            if getattr(module, "gradient_checkpointing", False):
                module._can_checkpoint_with_cache = True

    @classmethod
    def from_config(cls, config: PolicyConfig) -> TransformersPolicy:
        """Load `config.model` (None = embedded GGUF) on `config.device`."""
        device = resolve_device(config.device)
        if config.dtype == "auto":
            dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        else:
            dtype = _DTYPES[config.dtype]
        source = resolve_model_source(config.model)
        model, tokenizer = load_model_and_tokenizer(source, dtype, config.trust_remote_code)
        return cls(model.to(device), tokenizer, config)

    # -- weights -------------------------------------------------------------------------
    def _weight_versions(self) -> tuple[int, ...]:
        return tuple(p._version for p in self.model.parameters())

    def sync_weights(self) -> None:
        """Copy the master weights into the generation copy (no-op when they are the same)."""
        if self._sampler is not None:
            self._sampler.sync()  # a low-precision copy (gathers a sharded model's shards)
        elif self._gen_model is not self.model:  # a sharded model's unsharded sampling copy
            with torch.no_grad():
                for dst, src in zip(
                    self._gen_model.parameters(), self.model.parameters(), strict=True
                ):
                    dst.copy_(full_tensor(src))  # a sharded model's shards are gathered
        self._synced_versions = self._weight_versions()

    def _sync_if_stale(self) -> None:
        # In-place optimizer steps bump each parameter's version counter: re-sync automatically
        # so that a forgotten sync_weights() cannot make generation silently off-policy.
        if self._gen_model is not self.model and self._weight_versions() != self._synced_versions:
            self.sync_weights()

    # -- prompts -------------------------------------------------------------------------
    def encode(self, prompt: str) -> list[int]:
        """Prompt token ids exactly as `generate` and `logprobs` feed them to the model."""
        ids = render_prompt(self.tokenizer, prompt, self.config.chat_template)
        if not ids:
            raise AZRConfigError(
                "a prompt renders to zero tokens; pass non-empty prompts or enable chat_template"
            )
        return ids

    # -- generation ----------------------------------------------------------------------
    def generate(
        self,
        prompts: list[str],
        max_new_tokens: int,
        temperature: float,
        top_p: float = 1.0,
        n: int = 1,
        stop: list[str] | None = None,
    ) -> list[Generation]:
        """Sample n completions per prompt; output order is prompt by prompt, n per prompt."""
        validate_sampling(max_new_tokens, temperature, top_p, n)
        stops = list(self.config.stop if stop is None else stop)
        if any(not s for s in stops):
            raise AZRConfigError("stop strings must be non-empty")
        encoded = [self.encode(p) for p in prompts]
        rows = [(i, j) for i in range(len(prompts)) for j in range(n)]
        results: list[Generation] = [Generation("", [], [], i, "length") for i, _ in rows]
        if max_new_tokens == 0 or not rows:
            return results
        self._sync_if_stale()
        order = sorted(range(len(rows)), key=lambda r: len(encoded[rows[r][0]]))
        size = self.config.max_batch_size
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            outputs = self._generate_chunk(
                [encoded[rows[r][0]] for r in chunk], max_new_tokens, temperature, top_p, stops
            )
            for r, (ids, lps, reason) in zip(chunk, outputs, strict=True):
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                results[r] = Generation(text, ids, lps, rows[r][0], reason)
        return results

    def _prefill(
        self, prompts: list[list[int]]
    ) -> tuple[int, list[torch.Tensor], list[list[tuple[torch.Tensor, torch.Tensor]]]]:
        """Run each distinct prompt once; returns (shared prefix length, last logits, per-layer
        KV)."""
        from transformers import DynamicCache

        model = self._gen_model
        prefix_len = 0
        if self.config.share_prefix and len(prompts) > 1:
            prefix_len = min(_common_prefix_length(prompts), min(len(p) for p in prompts) - 1)
            if prefix_len < _MIN_SHARED_PREFIX:
                prefix_len = 0
        prefix_kv = None
        if prefix_len:
            cache = DynamicCache(config=model.config)
            ids = torch.tensor([prompts[0][:prefix_len]], device=self.device)
            model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1)
            prefix_kv = _layer_kv(cache)
        logits: list[torch.Tensor] = [torch.empty(0)] * len(prompts)
        kvs: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in prompts]
        for group in _prefill_groups([len(p) - prefix_len for p in prompts]):
            suffixes = [prompts[u][prefix_len:] for u in group]
            width = max(len(x) for x in suffixes)
            rows = len(group)
            past = None
            if prefix_kv is not None:
                past = [
                    (k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in prefix_kv
                ]
            cache = DynamicCache(ddp_cache_data=past, config=model.config)
            # Left-padded, so that every row's last token is in the last column.
            ids = torch.full((rows, width), self.tokenizer.pad_token_id, dtype=torch.long)
            attention = torch.zeros(rows, prefix_len + width, dtype=torch.long)
            attention[:, :prefix_len] = 1
            positions = torch.full((rows, width), prefix_len, dtype=torch.long)
            for b, suffix in enumerate(suffixes):
                ids[b, width - len(suffix) :] = torch.tensor(suffix)
                attention[b, prefix_len + width - len(suffix) :] = 1
                positions[b, width - len(suffix) :] = torch.arange(
                    prefix_len, prefix_len + len(suffix)
                )
            out = model(
                input_ids=ids.to(self.device),
                attention_mask=attention.to(self.device),
                position_ids=positions.to(self.device),
                cache=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            layers = _layer_kv(cache)
            for b, u in enumerate(group):
                logits[u] = out.logits[b, -1]
                kvs[u] = [(k[b : b + 1], v[b : b + 1]) for k, v in layers]
        return prefix_len, logits, kvs

    @torch.inference_mode()
    def _generate_chunk(
        self,
        prompts: list[list[int]],
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        stops: list[str],
    ) -> list[tuple[list[int], list[float], str]]:
        model = self._gen_model
        distinct: dict[tuple[int, ...], int] = {}
        row_prompt = [distinct.setdefault(tuple(p), len(distinct)) for p in prompts]
        unique = [list(p) for p in distinct]
        prefix_len, last_logits, kvs = self._prefill(unique)

        decode = (
            DecodeStep(model) if self.config.direct_decode and DecodeStep.supports(model) else None
        )
        # Assemble the decode cache: [prefix | left padding | suffix] for each distinct prompt,
        # then one row per sample. With `DecodeStep`, the shared prefix is kept once instead
        # (`prefix_kv`) and attended to once for all rows.
        separate = decode is not None and prefix_len > 0
        in_rows = 0 if separate else prefix_len  # prefix columns in each row's cache
        suffix_lens = [len(p) - prefix_len for p in unique]
        width = in_rows + max(suffix_lens)
        rows = len(prompts)
        index = torch.tensor(row_prompt, device=self.device)
        cache = BufferCache(len(kvs[0]), width + max_new_tokens)
        prefix_kv: list[tuple[torch.Tensor, torch.Tensor]] = []
        # Layer by layer, each prefill's keys/values freed once copied: the decode cache, not a
        # second copy of it, is what this step's memory holds.
        for layer in range(len(kvs[0])):
            sample_k, sample_v = kvs[0][layer]
            if separate:
                prefix_kv.append(
                    (sample_k[:, :, :prefix_len].clone(), sample_v[:, :, :prefix_len].clone())
                )
            keys = sample_k.new_zeros(len(unique), sample_k.shape[1], width, sample_k.shape[3])
            values = torch.zeros_like(keys)
            for u, s in enumerate(suffix_lens):
                k, v = kvs[u][layer]
                keys[u, :, :in_rows], values[u, :, :in_rows] = (
                    k[0, :, :in_rows],
                    v[0, :, :in_rows],
                )
                keys[u, :, width - s :], values[u, :, width - s :] = (
                    k[0, :, k.shape[2] - s :],
                    v[0, :, v.shape[2] - s :],
                )
            buffer = cache.layers[layer]
            assert isinstance(buffer, BufferLayer)
            buffer.fill(keys.index_select(0, index), values.index_select(0, index))
            empty = keys.new_empty(0)
            for u in range(len(unique)):
                kvs[u][layer] = (empty, empty)
        del kvs
        mask = torch.zeros(rows, width + max_new_tokens, dtype=torch.long, device=self.device)
        mask[:, :in_rows] = 1
        for r, u in enumerate(row_prompt):
            mask[r, width - suffix_lens[u] : width] = 1
        positions = torch.tensor([len(unique[u]) for u in row_prompt], device=self.device)
        logits = torch.stack(last_logits).index_select(0, index)

        tokens_out: list[list[int]] = [[] for _ in range(rows)]
        logprobs_out: list[list[float]] = [[] for _ in range(rows)]
        reasons = ["length"] * rows
        active = list(range(rows))
        window = max((len(s) for s in stops), default=0) + 8
        for step in range(max_new_tokens):
            tokens, logps = sample_next(logits, temperature, top_p, self._generator)
            keep: list[int] = []
            for j, (tok, lp) in enumerate(zip(tokens.tolist(), logps.tolist(), strict=True)):
                r = active[j]
                tokens_out[r].append(tok)
                logprobs_out[r].append(lp)
                if tok in self._eos_ids or (
                    stops
                    and any(s in self.tokenizer.decode(tokens_out[r][-window:]) for s in stops)
                ):
                    reasons[r] = "stop"
                else:
                    keep.append(j)
            if not keep or step == max_new_tokens - 1:
                break
            if len(keep) < len(active):
                kept = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(kept)
                mask, positions, tokens = mask[kept], positions[kept], tokens[kept]
                active = [active[k] for k in keep]
            mask[:, width + step] = 1
            if decode is not None:
                logits = decode(
                    tokens, positions, mask[:, : width + step + 1], cache, prefix_kv or None
                )
            else:
                logits = model(
                    input_ids=tokens.unsqueeze(-1),
                    attention_mask=mask[:, : width + step + 1],
                    position_ids=positions.unsqueeze(-1),
                    cache=cache,
                    use_cache=True,
                ).logits[:, -1]
            positions = positions + 1
        return list(zip(tokens_out, logprobs_out, reasons, strict=True))

    # -- log-probs for the update --------------------------------------------------------
    def logprobs(
        self,
        prompts: list[str],
        completions: Sequence[str | Sequence[int]],
        temperature: float = 1.0,
        top_p: float = 1.0,
    ) -> LogprobBatch:
        """Per-token log-probs and entropies of `completions` under the current (master) weights.

        Pass the completions' `token_ids` from `generate` (text is re-tokenized, which need not
        give back the sampled tokens). With the temperature and top-p used for sampling, the
        result matches the generation log-probs; gradients flow unless called under no_grad.

        The values and gradients are those of one padded forward over the whole batch, computed
        with less work: rows are split into forward passes (`_plan_passes`) in which a shared
        prompt prefix runs once, and logits exist only for completion tokens (see module notes).
        """
        if len(prompts) != len(completions):
            raise AZRConfigError(
                f"got {len(prompts)} prompts but {len(completions)} completions; "
                "pass one per prompt"
            )
        validate_sampling(0, temperature, top_p, 1)
        prompt_ids = [self.encode(p) for p in prompts]
        completion_ids = [
            list(self.tokenizer(c, add_special_tokens=False)["input_ids"])
            if isinstance(c, str)
            else [int(t) for t in c]
            for c in completions
        ]
        batch = len(prompts)
        t_max = max((len(c) for c in completion_ids), default=0)
        if batch == 0 or t_max == 0:
            empty = torch.zeros(batch, 0, device=self.device)
            return LogprobBatch(empty, empty.clone(), empty.clone())
        rows = [r for r in range(batch) if completion_ids[r]]
        passes = [(list(range(len(rows))), 0)] if self.single_pass else _plan_passes(
            [prompt_ids[r] for r in rows],
            [len(completion_ids[r]) for r in rows],
            _MIN_SHARED_PREFIX if self.config.share_prefix else None,
        )
        token_parts: list[torch.Tensor] = []
        entropy_parts: list[torch.Tensor] = []
        where_rows: list[int] = []
        where_cols: list[int] = []
        fed = {"real_tokens": 0.0, "fed_tokens": 0.0}
        for members, prefix_len in passes:
            group = [rows[m] for m in members]
            logits = self._completion_logits(
                [prompt_ids[r] for r in group], [completion_ids[r] for r in group], prefix_len, fed
            )
            targets = torch.tensor(
                [t for r in group for t in completion_ids[r]], device=self.device
            )
            token_logp, entropy = _token_logprobs_and_entropies(logits, targets, temperature, top_p)
            del logits
            token_parts.append(token_logp)
            entropy_parts.append(entropy)
            for r in group:
                where_rows += [r] * len(completion_ids[r])
                where_cols += range(len(completion_ids[r]))
        index = (
            torch.tensor(where_rows, device=self.device),
            torch.tensor(where_cols, device=self.device),
        )
        zeros = torch.zeros(batch, t_max, device=self.device)
        mask = zeros.index_put(index, torch.ones(len(where_rows), device=self.device))
        return LogprobBatch(
            zeros.index_put(index, torch.cat(token_parts)),
            zeros.index_put(index, torch.cat(entropy_parts)),
            mask,
            extra=fed,
        )

    def _completion_logits(
        self,
        prompts: list[list[int]],
        completions: list[list[int]],
        prefix_len: int,
        fed: dict[str, float],
    ) -> torch.Tensor:
        """Logits `[sum of completion lengths, vocab]` that predict each completion token, row by
        row.

        With `prefix_len > 0` the rows' common prefix runs once (batch 1) and its keys/values,
        still attached to the graph, are the past of a batched forward over the rest; rows are
        left-padded so that each row's tokens are contiguous and end in the last column. A
        row's last completion token predicts nothing we need, so it is not fed. `fed` counts the
        positions computed (`fed_tokens`) and those that are not padding (`real_tokens`).
        """
        past = None
        if prefix_len:
            cache = PrefixCache(self.model.config.num_hidden_layers)
            ids = torch.tensor([prompts[0][:prefix_len]], device=self.device)
            self.model(input_ids=ids, cache=cache, use_cache=False, logits_to_keep=1)
            past = cache.new_states()
        rests = [p[prefix_len:] + c[:-1] for p, c in zip(prompts, completions, strict=True)]
        width = max(len(s) for s in rests)
        fed["real_tokens"] += prefix_len + sum(len(s) for s in rests)
        fed["fed_tokens"] += prefix_len + width * len(rests)
        ids = torch.full((len(rests), width), self.tokenizer.pad_token_id, dtype=torch.long)
        attention = torch.zeros(len(rests), prefix_len + width, dtype=torch.long)
        attention[:, :prefix_len] = 1
        positions = torch.full((len(rests), width), prefix_len, dtype=torch.long)
        for b, rest in enumerate(rests):
            ids[b, width - len(rest) :] = torch.tensor(rest)
            attention[b, prefix_len + width - len(rest) :] = 1
            positions[b, width - len(rest) :] = torch.arange(prefix_len, prefix_len + len(rest))
        keep = max(len(c) for c in completions)
        out = self.model(
            input_ids=ids.to(self.device),
            attention_mask=attention.to(self.device),
            position_ids=positions.to(self.device),
            cache=PrefixCache(len(past), past) if past is not None else None,
            use_cache=False,
            logits_to_keep=keep,
        )
        return torch.cat([out.logits[b, keep - len(c) :] for b, c in enumerate(completions)])


def _plan_passes(
    prompts: list[list[int]], completion_lengths: list[int], min_prefix: int | None
) -> list[tuple[list[int], int]]:
    """Split rows into forward passes `(row indices, shared prefix length)` of least padded work.

    Rows are sorted by prompt tokens, so rows with a common prefix are neighbours; a dynamic
    programme over contiguous runs then minimises the tokens processed: a run costs its shared
    prefix once plus rows x its longest (suffix + completion), plus `_PASS_COST` per forward
    pass. This both shares prefixes (several task-role groups in one micro-batch each get their
    own) and buckets rows by length. `min_prefix=None` disables prefix sharing.
    """
    n = len(prompts)
    order = sorted(range(n), key=lambda r: prompts[r])
    neighbour = [
        _common_prefix_length([prompts[a], prompts[b]]) for a, b in itertools.pairwise(order)
    ]
    best = [0.0] + [math.inf] * n
    start = [0] * (n + 1)
    prefix_of = [0] * (n + 1)
    for end in range(1, n + 1):
        shared, shortest, longest = math.inf, math.inf, 0
        for first in range(end - 1, -1, -1):
            row = order[first]
            if first < end - 1:
                shared = min(shared, neighbour[first])
            shortest = min(shortest, len(prompts[row]))
            longest = max(longest, len(prompts[row]) + completion_lengths[row])
            count = end - first
            prefix = 0
            if min_prefix is not None and count > 1:
                prefix = int(min(shared, shortest - 1))
                prefix = prefix if prefix >= min_prefix else 0
            cost = best[first] + _PASS_COST * (2 if prefix else 1) + prefix
            cost += count * (longest - prefix)
            if cost < best[end]:
                best[end], start[end], prefix_of[end] = cost, first, prefix
    passes = []
    end = n
    while end > 0:
        passes.append((order[start[end] : end], prefix_of[end]))
        end = start[end]
    return passes[::-1]


def _token_logprobs_and_entropies(
    logits: torch.Tensor, targets: torch.Tensor, temperature: float, top_p: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """`sampling_logprobs` at `targets` and the distribution's entropy, keeping one `[N, vocab]`.

    The nucleus is taken from `sampling_logprobs` itself (without gradient: it is a discrete
    choice), so it is the very set generation sampled from; restricting the tempered logits to
    it and renormalising is the same distribution, and `_LogprobEntropy` differentiates it while
    saving only its log-probs for backward.
    """
    scaled = logits.float()
    if temperature > 0.0 and temperature != 1.0:
        scaled = scaled / temperature
    if temperature > 0.0 and top_p < 1.0:
        with torch.no_grad():
            outside = torch.cat(
                [
                    torch.isinf(sampling_logprobs(chunk, temperature, top_p))
                    for chunk in torch.split(logits.detach(), _NUCLEUS_CHUNK)
                ]
            )
        scaled = scaled.masked_fill(outside, float("-inf"))
    token_logp, entropy = _LogprobEntropy.apply(scaled, targets)  # type: ignore[no-untyped-call]
    return token_logp, entropy


class _LogprobEntropy(torch.autograd.Function):
    """(log_softmax(x)[target], entropy of softmax(x)) per row, saving only log_softmax(x).

    Autograd through log_softmax, exp, the product and the sum would keep four `[N, vocab]`
    tensors alive until backward; the closed forms need one: with p = softmax(x) and
    H = -sum p log p, d log p_t / dx = onehot(t) - p and dH/dx = -p (log p + H).
    """

    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, targets: torch.Tensor) -> Any:
        logp = torch.log_softmax(logits, dim=-1)
        token_logp = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        entropy = entropy_from_logprobs(logp)
        ctx.save_for_backward(logp, targets, entropy)
        return token_logp, entropy

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> Any:
        grad_token, grad_entropy = grads
        logp, targets, entropy = ctx.saved_tensors
        p = logp.exp()
        grad = (logp + entropy.unsqueeze(-1)).mul_(grad_entropy.unsqueeze(-1))
        grad = grad.add_(grad_token.unsqueeze(-1)).mul_(p).neg_()
        grad.masked_fill_(p == 0, 0.0)  # outside the nucleus log p = -inf: no mass, no gradient
        grad.scatter_add_(-1, targets.unsqueeze(-1), grad_token.unsqueeze(-1))
        return grad, None
