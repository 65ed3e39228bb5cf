"""`logprobs` with shared prefixes, planned passes and the fused entropy equals the plain
computation.

The reference is the straightforward method `logprobs` used to be: one left-padded forward over
the whole batch, full-vocabulary log-probs through `sampling_logprobs`, autograd everywhere.
Values and the gradients of a scalar loss w.r.t. every parameter must agree.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from azr_agents.policies.sampling import entropy_from_logprobs, sampling_logprobs
from azr_agents.policies.transformers_backend import _plan_passes

SHARED = "Instructions shared by one task-role group: deduce the output of f. " * 2
OTHER = "Another group's instructions: propose an input for this program. " * 2


def reference_logprobs(
    policy: Any, prompts: list[str], completions: list[list[int]], temperature: float, top_p: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    prompt_ids = [policy.encode(p) for p in prompts]
    batch, p_max = len(prompts), max(len(p) for p in prompt_ids)
    t_max = max(len(c) for c in completions)
    ids = torch.full((batch, p_max + t_max), policy.tokenizer.pad_token_id, dtype=torch.long)
    attention = torch.zeros(batch, p_max + t_max, dtype=torch.long)
    for b, (p, c) in enumerate(zip(prompt_ids, completions, strict=True)):
        ids[b, p_max - len(p) : p_max + len(c)] = torch.tensor(p + c)
        attention[b, p_max - len(p) : p_max + len(c)] = 1
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    out = policy.model(
        input_ids=ids,
        attention_mask=attention,
        position_ids=positions,
        use_cache=False,
        logits_to_keep=t_max + 1,
    )
    logp = sampling_logprobs(out.logits[:, :-1], temperature, top_p)
    mask = attention[:, p_max:].float()
    token_logp = logp.gather(-1, ids[:, p_max:].unsqueeze(-1)).squeeze(-1)
    token_logp = torch.where(mask > 0, token_logp, torch.zeros_like(token_logp))
    # entropy_from_logprobs is right in value, but its gradient is NaN under a top-p nucleus
    # (d(p log p)/dp at p = 0, log p = -inf); zeroing log p there first gives the true gradient.
    p = logp.exp()
    entropy = -(p * logp.masked_fill(p == 0, 0.0)).sum(-1)
    assert torch.allclose(entropy, entropy_from_logprobs(logp))
    return token_logp, entropy * mask, mask


def completions_for(
    policy: Any, prompts: list[str], lengths: list[int], temperature: float, top_p: float
) -> list[list[int]]:
    """Random tokens; sampled ones under a top-p nucleus (a token outside it has log-prob -inf)."""
    if temperature > 0.0 and top_p < 1.0:
        gens = policy.generate(prompts, max(lengths), temperature, top_p, stop=[])
        return [g.token_ids[:n] for g, n in zip(gens, lengths, strict=True)]
    gen = torch.Generator().manual_seed(len(prompts))
    return [torch.randint(3, 200, (n,), generator=gen).tolist() for n in lengths]


def loss_and_grads(
    policy: Any, values: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
) -> list[torch.Tensor]:
    token_logp, entropy, mask = values
    gen = torch.Generator().manual_seed(1)
    weights = torch.randn(token_logp.shape, generator=gen)
    policy.model.zero_grad(set_to_none=True)
    loss = (token_logp * weights * mask).sum() + 0.1 * (entropy * weights.flip(-1) * mask).sum()
    loss.backward()
    grads = [p.grad.clone() for p in policy.model.parameters()]
    policy.model.zero_grad(set_to_none=True)
    return grads


CASES = {
    "shared prefix, ragged": (
        [SHARED + "def f(a): return a", SHARED + "x = 3", SHARED + "def f(s):\n  return s[::-1]"],
        [7, 12, 1],
    ),
    "batch of one": ([SHARED + "def f(a): return a"], [9]),
    "identical prompts": ([SHARED + "x"] * 3, [4, 8, 6]),
    "no common prefix": (["short", "another prompt entirely", "z"], [5, 3, 8]),
    "two groups": (
        [SHARED + "a = 1", OTHER + "b = 22", SHARED + "ccc = 333", OTHER + "d", SHARED + "e"],
        [6, 3, 10, 5, 2],
    ),
    "an empty completion": ([SHARED + "a", SHARED + "bb"], [0, 6]),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    ("temperature", "top_p"), [(1.0, 1.0), (0.7, 1.0), (1.3, 0.8), (0.0, 0.5), (1.0, 0.3)]
)
def test_logprobs_equal_plain_computation(
    policy: Any, case: str, temperature: float, top_p: float
) -> None:
    prompts, lengths = CASES[case]
    completions = completions_for(policy, prompts, lengths, temperature, top_p)
    expected = reference_logprobs(policy, prompts, completions, temperature, top_p)
    batch = policy.logprobs(prompts, completions, temperature, top_p)
    assert torch.equal(batch.mask, expected[2])
    assert torch.allclose(batch.logprobs, expected[0], atol=1e-5, rtol=0)
    assert torch.allclose(batch.entropies, expected[1], atol=1e-5, rtol=0)
    got = loss_and_grads(policy, (batch.logprobs, batch.entropies, batch.mask))
    want = loss_and_grads(policy, expected)
    for g, w in zip(got, want, strict=True):
        assert torch.allclose(g, w, atol=1e-4, rtol=1e-4), (g - w).abs().max()


def test_prefix_is_shared_per_group() -> None:
    a, b = [1] * 40, [2] * 40
    prompts = [[*a, 5], [*b, 6, 7], [*a, 8, 9, 10], [*b, 11], [*a, 12]]
    passes = _plan_passes(prompts, [4, 4, 4, 4, 4], min_prefix=16)
    assert sorted((sorted(rows), prefix) for rows, prefix in passes) == [
        ([0, 2, 4], 40),
        ([1, 3], 40),
    ]
    assert [p for _, p in _plan_passes(prompts, [4] * 5, min_prefix=None)] == [0] * len(
        _plan_passes(prompts, [4] * 5, min_prefix=None)
    )
    assert _plan_passes([a], [3], min_prefix=16) == [([0], 0)]


def test_gradient_checkpointing_keeps_values_and_gradients(make_policy: Any) -> None:
    plain, checkpointed = make_policy(), make_policy(gradient_checkpointing=True)
    assert any(getattr(m, "gradient_checkpointing", False) for m in checkpointed.model.modules())
    plain.model.train()
    checkpointed.model.train()  # transformers checkpoints only in training mode
    prompts, lengths = CASES["two groups"]
    completions = completions_for(plain, prompts, lengths, 1.0, 1.0)
    results = []
    for policy in (plain, checkpointed):
        batch = policy.logprobs(prompts, completions)
        results.append(
            (batch.logprobs, loss_and_grads(policy, (batch.logprobs, batch.entropies, batch.mask)))
        )
    assert torch.allclose(results[0][0], results[1][0], atol=1e-5, rtol=0)
    for g, w in zip(results[0][1], results[1][1], strict=True):
        assert torch.allclose(g, w, atol=1e-5, rtol=1e-5)
