"""`DecodeStep` against `model(...)`: the same logits, bit for bit without a separate prefix and
to float rounding with one, and the policy's generations unchanged by it."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import DynamicCache, GPT2Config, GPT2LMHeadModel

from azr_agents.policies.decode_step import DecodeStep
from azr_agents.policies.kv_cache import BufferCache
from azr_agents.testing import build_tiny_model


def _prefill(model: Any, ids: torch.Tensor, mask: torch.Tensor) -> tuple[Any, list[Any]]:
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config)
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache,
                use_cache=True)
    return out, [(layer.keys.clone(), layer.values.clone()) for layer in cache.layers]


def _decode_both(model: Any, prefix_len: int, padded: bool, steps: int = 4) -> list[Any]:
    """Logits of `steps` greedy decode steps from `model(...)` over full rows and from
    `DecodeStep`, given the shared prefix separately when `prefix_len` > 0."""
    torch.manual_seed(0)
    rows, width = 5, 9
    prefix = torch.randint(3, 200, (1, prefix_len)).expand(rows, -1)
    suffix = torch.randint(3, 200, (rows, width))
    suffix_mask = torch.ones(rows, width, dtype=torch.long)
    if padded:
        for r in range(rows):
            suffix_mask[r, : r % 4] = 0
    ids = torch.cat([prefix, suffix], dim=1)
    mask = torch.cat([torch.ones(rows, prefix_len, dtype=torch.long), suffix_mask], dim=1)
    results = []
    with torch.inference_mode():
        out, kv = _prefill(model, ids, mask)
        full = BufferCache(len(kv), ids.shape[1] + steps)
        full.fill(kv)
        own = BufferCache(len(kv), width + steps)
        own.fill([(k[:, :, prefix_len:], v[:, :, prefix_len:]) for k, v in kv])
        shared = [(k[:1, :, :prefix_len], v[:1, :, :prefix_len]) for k, v in kv] or None
        step = DecodeStep(model)
        full_mask = torch.cat([mask, torch.zeros(rows, steps, dtype=torch.long)], dim=1)
        own_mask = full_mask[:, prefix_len:]
        positions = mask.sum(-1)
        tokens = out.logits[:, -1].argmax(-1)
        for s in range(steps):
            full_mask[:, ids.shape[1] + s] = 1
            reference = model(input_ids=tokens.unsqueeze(-1),
                              attention_mask=full_mask[:, : ids.shape[1] + s + 1],
                              position_ids=positions.unsqueeze(-1), cache=full,
                              use_cache=True).logits[:, -1]
            ours = step(tokens, positions, own_mask[:, : width + s + 1], own,
                        shared if prefix_len else None)
            results.append((reference, ours))
            tokens, positions = reference.argmax(-1), positions + 1
    return results


@pytest.mark.parametrize("padded", [True, False])
def test_direct_step_is_bit_identical_to_the_model_forward(tiny_model: Any, padded: bool) -> None:
    for reference, ours in _decode_both(tiny_model, prefix_len=0, padded=padded):
        assert torch.equal(reference, ours)


@pytest.mark.parametrize("padded", [True, False])
def test_a_separate_shared_prefix_gives_the_same_logits(tiny_model: Any, padded: bool) -> None:
    for reference, ours in _decode_both(tiny_model, prefix_len=23, padded=padded):
        scale = float(reference.abs().max())
        assert float((reference - ours).abs().max()) <= 1e-5 * scale


def test_only_plain_llama_and_qwen2_models_are_decoded_directly(tiny_model: Any) -> None:
    assert DecodeStep.supports(tiny_model)
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50))
    assert not DecodeStep.supports(gpt2)


def test_generations_do_not_depend_on_direct_decoding(make_policy: Any) -> None:
    prompts = ["a shared instruction text that is long enough to share, then x",
               "a shared instruction text that is long enough to share, then yy"]
    runs = {}
    for direct in (False, True):
        policy = make_policy(direct_decode=direct)
        runs[direct] = policy.generate(prompts, 12, 0.0, n=2, stop=[])
    for a, b in zip(runs[False], runs[True], strict=True):
        assert a.token_ids == b.token_ids
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-5)


@pytest.fixture
def tiny_model() -> Any:
    return build_tiny_model(256)
