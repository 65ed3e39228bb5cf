"""One decode step of a Llama-family model without the `transformers` forward's per-call work.

Why: at decode time a forward processes one token per row, so the matmuls are small and what
`model(...)` does around them shows: building a 4D attention mask from the 2D one, the rotary
table, output dataclasses, kwargs plumbing, the attention-interface lookup and the cache's
bookkeeping, layer by layer. Measured on SmolLM2-135M (2 cores, batch 16, ~30-token prompts):
a `model(...)` decode step took 66-72 ms where the same layers called directly took 58 ms and
the model's linear layers alone 47 ms (benchmarks/README.md has the rollout figures).

`DecodeStep` calls the model's own submodules (norms, projections, MLPs, rotary embedding, LM
head) and re-does only the glue, following `transformers`' SDPA path for a single query token
(grouped query heads folded into the query length, a boolean padding mask), so its logits match
`model(...)`'s to float noise (`tests/agents/policies/test_decode_step.py` checks it). Any model
it does not recognise decodes through `model(...)` as before.
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

from azr_agents.policies.kv_cache import BufferCache, BufferLayer

# Model classes whose decoder layer is exactly: RMSNorm, attention (q/k/v projections, rotary
# embedding, softmax attention, o projection), residual, RMSNorm, MLP, residual.
_SUPPORTED = {"LlamaForCausalLM", "Qwen2ForCausalLM"}


class DecodeStep:
    """Logits `[rows, vocab]` for one new token per row, reading and extending a `BufferCache`."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.body = model.model
        self.layers = list(self.body.layers)

    @staticmethod
    def supports(model: Any) -> bool:
        """True for a plain Llama or Qwen2 causal LM using SDPA attention over all layers."""
        if type(model).__name__ not in _SUPPORTED:
            return False
        config = model.config
        if getattr(config, "_attn_implementation", None) != "sdpa":
            return False
        if getattr(config, "use_sliding_window", False):
            return False
        if any(kind != "full_attention" for kind in getattr(config, "layer_types", None) or []):
            return False
        body = getattr(model, "model", None)
        return all(hasattr(body, name) for name in ("embed_tokens", "layers", "norm", "rotary_emb"))

    def __call__(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        attention_mask: torch.Tensor,
        cache: BufferCache,
        prefix: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        """`tokens` and `positions` are `[rows]`; `attention_mask` `[rows, cached + 1]` (1 =
        attend) covers the rows' cache, whose last column is the new token. `prefix`: per layer,
        keys and values `[1, kv_heads, length, head_dim]` that every row attends to before its
        own cache (the prompts' shared prefix, kept once: see `_attend_with_prefix`)."""
        rows = tokens.shape[0]
        hidden = self.body.embed_tokens(tokens.unsqueeze(-1))
        cos, sin = self.body.rotary_emb(hidden, positions.unsqueeze(-1))
        # Like transformers: no mask when nothing is padded (then SDPA repeats key/value heads
        # itself), else a boolean one with each key/value head's query heads as its query rows.
        mask = None if bool(attention_mask.all()) else attention_mask[:, None, None, :].bool()
        buffers = [cast(BufferLayer, layer) for layer in cache.layers]
        for i, (layer, cache_layer) in enumerate(zip(self.layers, buffers, strict=True)):
            attention = layer.self_attn
            head_dim = attention.head_dim
            x = layer.input_layernorm(hidden)
            query = attention.q_proj(x).view(rows, 1, -1, head_dim).transpose(1, 2)
            key = attention.k_proj(x).view(rows, 1, -1, head_dim).transpose(1, 2)
            value = attention.v_proj(x).view(rows, 1, -1, head_dim).transpose(1, 2)
            query, key = apply_rotary_pos_emb(query, key, cos, sin)
            keys, values = cache_layer.update(key, value)
            groups = attention.num_key_value_groups
            if prefix is not None:
                out = _attend_with_prefix(
                    query.reshape(rows, -1, groups, head_dim), keys, values, mask, *prefix[i],
                    attention.scaling,
                )
            else:
                if groups > 1 and mask is not None:
                    query = query.reshape(rows, -1, groups, head_dim)
                out = F.scaled_dot_product_attention(
                    query, keys, values, attn_mask=mask, dropout_p=0.0, scale=attention.scaling,
                    enable_gqa=groups > 1 and mask is None,
                )
            out = out.reshape(rows, -1, 1, head_dim).transpose(1, 2).contiguous()
            hidden = hidden + attention.o_proj(out.reshape(rows, 1, -1).contiguous())
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        hidden = self.body.norm(hidden)
        return self.model.lm_head(hidden)[:, -1]  # type: ignore[no-any-return]


def _attend_with_prefix(
    query: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor | None,
    prefix_keys: torch.Tensor,
    prefix_values: torch.Tensor,
    scale: float,
) -> torch.Tensor:
    """Softmax attention of `query` `[rows, kv_heads, groups, dim]` over a shared prefix
    `[1, kv_heads, P, dim]` followed by each row's own `keys`/`values` `[rows, kv_heads, L,
    dim]` (`mask` `[rows, 1, 1, L]`, True = attend); returns `[rows, kv_heads, groups, dim]`.

    Why: with long prompts that share their instructions, a decode step's attention mostly
    reads the same prefix keys and values once per row (SmolLM2-135M, 16 rows of ~600 tokens:
    about 440 MB a step, as much as the weights). Here the prefix is one matrix product for all
    rows' queries at once, the rows' own parts another, and the two softmax parts are merged
    by their maxima and sums, which is the same softmax over the concatenation (up to float
    rounding).
    """
    rows, heads, groups, dim = query.shape
    # Prefix: every row's queries of a key/value head are that head's query rows.
    shared = query.permute(1, 0, 2, 3).reshape(1, heads, rows * groups, dim)
    scores = torch.matmul(shared, prefix_keys.transpose(-1, -2)).mul_(scale)
    prefix_max = scores.amax(dim=-1, keepdim=True)
    weights = scores.sub_(prefix_max).exp_()
    prefix_sum = weights.sum(dim=-1, keepdim=True)
    prefix_out = torch.matmul(weights, prefix_values)

    def per_row(t: torch.Tensor) -> torch.Tensor:  # [1, heads, rows * groups, x] -> per row
        return t.reshape(heads, rows, groups, -1).permute(1, 0, 2, 3)

    prefix_max, prefix_sum = per_row(prefix_max), per_row(prefix_sum)
    prefix_out = per_row(prefix_out)
    own = torch.matmul(query, keys.transpose(-1, -2)).mul_(scale)
    if mask is not None:
        own = own.masked_fill_(~mask, float("-inf"))
    # The max over both parts (finite: the prefix's is), then each part rescaled to it.
    joint_max = torch.maximum(own.amax(dim=-1, keepdim=True), prefix_max)
    own_weights = own.sub_(joint_max).exp_()
    rescale = (prefix_max - joint_max).exp_()
    total = own_weights.sum(dim=-1, keepdim=True).add_(prefix_sum * rescale)
    out = torch.matmul(own_weights, values).add_(prefix_out * rescale)
    return out.div_(total)
