"""A pre-allocated KV cache for the decode loop.

Why not `transformers.DynamicCache`: it grows by `torch.cat` at every step and layer, which
copies the whole cache each time; on CPU that copy was 60% of a decode step for AZR-sized
prompts (profiled: SmolLM2-135M, batch 16, 400-token prompts). Here each layer owns a buffer
of fixed capacity, a step writes its keys/values in place and attention reads a view of the
filled part. Dropping finished rows is an index-select on the buffer.

Rows are laid out as `[shared prefix | left padding | prompt suffix | generated tokens]`
(without the shared prefix when `decode_step.py` holds it once for all rows); the padding
columns are masked by the 2D attention mask, and positions are passed explicitly, so
rows of different prompt lengths decode together without recomputing anything.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import Cache, DynamicLayer


class BufferLayer(DynamicLayer):  # type: ignore[no-untyped-call]
    """One layer's keys and values in a buffer `[rows, kv_heads, capacity, head_dim]`."""

    def __init__(self, capacity: int) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.capacity = capacity
        self.length = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        rows, heads, _, dim = key_states.shape
        self.device = key_states.device
        self.keys = key_states.new_empty(rows, heads, self.capacity, dim)
        self.values = value_states.new_empty(rows, heads, self.capacity, value_states.shape[-1])
        self.is_initialized = True

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        assert self.keys is not None and self.values is not None
        end = self.length + key_states.shape[-2]
        if end > self.capacity:  # only if a caller under-estimated; grow rather than fail
            extra = max(end - self.capacity, self.capacity // 2)
            self.keys = torch.cat(
                [self.keys, self.keys.new_empty(*self.keys.shape[:2], extra, self.keys.shape[-1])],
                dim=2,
            )
            self.values = torch.cat(
                [
                    self.values,
                    self.values.new_empty(*self.values.shape[:2], extra, self.values.shape[-1]),
                ],
                dim=2,
            )
            self.capacity += extra
        self.keys[:, :, self.length : end] = key_states
        self.values[:, :, self.length : end] = value_states
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]

    def get_seq_length(self) -> int:
        return self.length

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.length + query_length, 0

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.is_initialized:
            assert self.keys is not None and self.values is not None
            self.keys = self.keys.index_select(0, indices)
            self.values = self.values.index_select(0, indices)

    def fill(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Install already-assembled `[rows, heads, length, dim]` keys/values (length <=
        capacity)."""
        self.lazy_initialization(keys, values)
        assert self.keys is not None and self.values is not None
        self.length = keys.shape[2]
        self.keys[:, :, : self.length] = keys
        self.values[:, :, : self.length] = values


class BufferCache(Cache):
    """A `transformers` cache made of `BufferLayer`s, one per decoder layer."""

    def __init__(self, num_layers: int, capacity: int) -> None:
        super().__init__(layers=[BufferLayer(capacity) for _ in range(num_layers)])

    def fill(self, per_layer: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        for layer, (keys, values) in zip(self.layers, per_layer, strict=True):
            assert isinstance(layer, BufferLayer)
            layer.fill(keys, values)


class PrefixLayer(DynamicLayer):  # type: ignore[no-untyped-call]
    """One layer of a read-only past: a shared prefix's keys/values `[1, heads, prefix, dim]`, or
    none.

    Used by `TransformersPolicy.logprobs`, where the past carries gradients. `update` returns
    past + new states without storing the concatenation, so that one prefix serves a batch of
    any size (it is expanded, not copied per row, before the concatenation) and a layer may be
    re-run by gradient checkpointing without growing the cache. The newest states are kept in
    `new_keys`/`new_values`, which is how a prefix forward hands its keys/values over.
    """

    def __init__(
        self, keys: torch.Tensor | None = None, values: torch.Tensor | None = None
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.keys, self.values = keys, values
        self.is_initialized = True
        self.new_keys: torch.Tensor | None = None
        self.new_values: torch.Tensor | None = None

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.new_keys, self.new_values = key_states, value_states
        if self.keys is None or self.values is None:
            return key_states, value_states
        rows = key_states.shape[0]
        return (
            torch.cat([self.keys.expand(rows, -1, -1, -1), key_states], dim=-2),
            torch.cat([self.values.expand(rows, -1, -1, -1), value_states], dim=-2),
        )

    def get_seq_length(self) -> int:
        return 0 if self.keys is None else int(self.keys.shape[-2])


class PrefixCache(Cache):
    """A `transformers` cache of `PrefixLayer`s: `past` is one (keys, values) per layer, or None."""

    def __init__(
        self, num_layers: int, past: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    ) -> None:
        pairs = past if past is not None else [(None, None)] * num_layers
        super().__init__(layers=[PrefixLayer(k, v) for k, v in pairs])

    def new_states(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The keys/values the last forward computed, per layer (the past for a later forward)."""
        states = []
        for layer in self.layers:
            assert isinstance(layer, PrefixLayer)
            assert layer.new_keys is not None and layer.new_values is not None
            states.append((layer.new_keys, layer.new_values))
        return states
