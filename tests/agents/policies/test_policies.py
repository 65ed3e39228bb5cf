"""Tests of the policy backends on a tiny random Llama (see conftest.py); no downloads."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from azr_agents.errors import AZRConfigError
from azr_agents.policies import Generation, Policy, load_policy
from azr_agents.policies.config import PolicyConfig
from azr_agents.policies.loading import resolve_model_source
from azr_agents.policies.sampling import (
    draw_from_logprobs,
    entropy_from_logprobs,
    sampling_logprobs,
    validate_sampling,
)
from azr_agents.policies.vllm_backend import vllm_weight_items

SHARED = "You are given a Python program and an input. Predict the output. " * 3
PROMPTS = [SHARED + "def f(a): return a", SHARED + "def f(x):\n    return x * 2 + 1", "short"]


def assert_logprobs_match(
    policy: Any,
    prompts: list[str],
    gens: list[Generation],
    temperature: float,
    top_p: float,
    tol: float,
) -> None:
    batch = policy.logprobs(
        [prompts[g.prompt_index] for g in gens], [g.token_ids for g in gens], temperature, top_p
    )
    for row, gen in enumerate(gens):
        length = len(gen.token_ids)
        assert batch.mask[row, :length].eq(1).all() and batch.mask[row, length:].eq(0).all()
        recomputed = batch.logprobs[row, :length]
        assert torch.isfinite(recomputed).all()
        assert torch.allclose(recomputed, torch.tensor(gen.logprobs), atol=tol), (
            recomputed,
            gen.logprobs,
        )


def test_policy_satisfies_protocol(policy: Any) -> None:
    assert isinstance(policy, Policy)
    assert policy.model is not None and policy.tokenizer is not None


def test_generation_shapes_and_order(policy: Any) -> None:
    gens = policy.generate(PROMPTS, max_new_tokens=12, temperature=1.0, n=2, stop=[])
    assert [g.prompt_index for g in gens] == [0, 0, 1, 1, 2, 2]
    for g in gens:
        assert 1 <= len(g.token_ids) == len(g.logprobs) <= 12
        assert g.text == policy.tokenizer.decode(g.token_ids, skip_special_tokens=True)
        assert all(lp <= 0.0 for lp in g.logprobs)
        assert g.finish_reason in ("stop", "length")
    assert gens[0].token_ids != gens[1].token_ids  # n samples are independent draws


def test_zero_new_tokens_and_empty_batch(policy: Any) -> None:
    assert [g.token_ids for g in policy.generate(PROMPTS, 0, 1.0)] == [[], [], []]
    assert policy.generate([], 5, 1.0) == []


@pytest.mark.parametrize(("temperature", "top_p"), [(1.0, 1.0), (0.7, 1.0), (1.3, 0.8), (1.0, 0.5)])
def test_sampling_logprobs_match_recomputation(
    policy: Any, temperature: float, top_p: float
) -> None:
    gens = policy.generate(
        PROMPTS, max_new_tokens=16, temperature=temperature, top_p=top_p, n=2, stop=[]
    )
    assert_logprobs_match(policy, PROMPTS, gens, temperature, top_p, tol=1e-4)


@pytest.mark.parametrize(
    "options", [{"share_prefix": False}, {"max_batch_size": 2}, {"chat_template": False}]
)
def test_options_keep_logprobs_exact(make_policy: Any, options: dict[str, Any]) -> None:
    policy = make_policy(**options)
    gens = policy.generate(PROMPTS, max_new_tokens=10, temperature=1.0, n=2, stop=[])
    assert len(gens) == 6
    assert_logprobs_match(policy, PROMPTS, gens, 1.0, 1.0, tol=1e-4)


def test_chat_template_can_be_turned_off(make_policy: Any) -> None:
    with_template, without = make_policy(), make_policy(chat_template=False)
    assert without.encode("abc") == list(without.tokenizer("abc")["input_ids"])
    assert len(with_template.encode("abc")) > len(without.encode("abc"))
    assert with_template.encode("abc")[0] == with_template.tokenizer.convert_tokens_to_ids(
        "<|im_start|>"
    )


def test_bf16_generation_is_close_to_fp32_recomputation(make_policy: Any) -> None:
    policy = make_policy(generation_dtype="bfloat16")
    gens = policy.generate(PROMPTS, max_new_tokens=10, temperature=1.0, stop=[])
    # bf16 sampling is exact for the bf16 model; the fp32 recomputation differs by rounding.
    assert_logprobs_match(policy, PROMPTS, gens, 1.0, 1.0, tol=0.15)


def test_generation_copy_follows_weight_updates(make_policy: Any) -> None:
    policy = make_policy(generation_dtype="bfloat16")
    with torch.no_grad():
        policy.model.lm_head.weight.mul_(-1.0)  # an in-place "optimizer step"
    policy.generate(["abc"], 2, 1.0)
    expected = policy.model.lm_head.weight.to(torch.bfloat16)
    assert torch.equal(policy._gen_model.lm_head.weight, expected)


def test_logprobs_have_gradients_and_entropies(policy: Any) -> None:
    gens = policy.generate(PROMPTS, max_new_tokens=8, temperature=1.0, stop=[])
    batch = policy.logprobs(PROMPTS, [g.token_ids for g in gens])
    assert (
        batch.logprobs.shape
        == batch.entropies.shape
        == batch.mask.shape
        == (3, max(len(g.token_ids) for g in gens))
    )
    assert batch.logprobs.requires_grad and batch.entropies.requires_grad
    assert (batch.entropies[batch.mask > 0] > 0).all()
    loss = -(batch.logprobs * batch.mask).sum() / batch.mask.sum() - 0.001 * batch.entropies.sum()
    loss.backward()
    grads = [p.grad for p in policy.model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_logprobs_accepts_text_and_checks_lengths(policy: Any) -> None:
    batch = policy.logprobs(["abc", "de"], ["xy", ""])
    assert batch.mask.tolist() == [[1.0, 1.0], [0.0, 0.0]]
    with pytest.raises(AZRConfigError, match="one per prompt"):
        policy.logprobs(["abc"], ["x", "y"])


def test_greedy_is_deterministic_with_model_logprobs(policy: Any) -> None:
    first = policy.generate(PROMPTS, 10, temperature=0.0, stop=[])
    second = policy.generate(PROMPTS, 10, temperature=0.0, n=2, stop=[])
    assert (
        [g.token_ids for g in first]
        == [g.token_ids for g in second[::2]]
        == [g.token_ids for g in second[1::2]]
    )
    assert_logprobs_match(
        policy, PROMPTS, first, 1.0, 1.0, tol=1e-4
    )  # greedy reports T=1 log-probs


def test_tiny_top_p_is_greedy(policy: Any) -> None:
    greedy = policy.generate(PROMPTS, 8, temperature=0.0, stop=[])
    nucleus = policy.generate(PROMPTS, 8, temperature=1.0, top_p=1e-6, stop=[])
    assert [g.token_ids for g in greedy] == [g.token_ids for g in nucleus]
    assert all(lp == 0.0 for g in nucleus for lp in g.logprobs)


def test_seed_makes_sampling_reproducible(make_policy: Any) -> None:
    a = make_policy(seed=123).generate(PROMPTS, 8, 1.0, stop=[])
    b = make_policy(seed=123).generate(PROMPTS, 8, 1.0, stop=[])
    assert [g.token_ids for g in a] == [g.token_ids for g in b]


def _ascii_stop(policy: Any, tokens: list[int]) -> tuple[int, str]:
    """First position >= 3 whose token is a printable ASCII char not seen before it."""
    for k in range(3, len(tokens)):
        char = policy.tokenizer.decode([tokens[k]])
        if (
            len(char) == 1
            and char.isascii()
            and char.isprintable()
            and char not in policy.tokenizer.decode(tokens[:k])
        ):
            return k, char
    pytest.skip("greedy sequence has no usable ASCII stop character")


def test_stop_string_ends_row_and_is_kept(policy: Any) -> None:
    greedy = policy.generate(PROMPTS, 40, temperature=0.0, stop=[])
    for g in greedy:
        k, char = _ascii_stop(policy, g.token_ids)
        (stopped,) = policy.generate(
            [PROMPTS[g.prompt_index]], 40, temperature=0.0, stop=["\x00never", char]
        )
        assert stopped.token_ids == g.token_ids[: k + 1]
        assert stopped.finish_reason == "stop" and stopped.text.endswith(char)


def test_default_stop_comes_from_config(make_policy: Any) -> None:
    probe = make_policy()
    tokens = probe.generate(PROMPTS[:1], 40, temperature=0.0, stop=[])[0].token_ids
    k, char = _ascii_stop(probe, tokens)
    (stopped,) = make_policy(stop=[char]).generate(PROMPTS[:1], 40, temperature=0.0)
    assert len(stopped.token_ids) == k + 1


def test_eos_token_stops_row(policy: Any) -> None:
    tokens = policy.generate(PROMPTS[:1], 20, temperature=0.0, stop=[])[0].token_ids
    policy._eos_ids = {tokens[4]}
    (stopped,) = policy.generate(PROMPTS[:1], 20, temperature=0.0, stop=[])
    assert (
        stopped.token_ids == tokens[: tokens.index(tokens[4]) + 1]
        and stopped.finish_reason == "stop"
    )


def test_rows_finishing_early_leave_others_intact(policy: Any) -> None:
    greedy = policy.generate(PROMPTS, 30, temperature=0.0, stop=[])
    k, char = _ascii_stop(policy, greedy[0].token_ids)
    mixed = policy.generate(PROMPTS, 30, temperature=0.0, stop=[char])
    for before, after in zip(greedy, mixed, strict=True):
        assert after.token_ids == before.token_ids[: len(after.token_ids)]
    assert len(mixed[0].token_ids) == k + 1


# -- sampling maths ----------------------------------------------------------------------
def test_top_p_nucleus_by_hand() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2]]))
    logp = sampling_logprobs(logits, 1.0, 0.6)
    assert torch.allclose(logp.exp(), torch.tensor([[0.625, 0.375, 0.0]]))
    assert math.isclose(
        entropy_from_logprobs(logp).item(),
        -(0.625 * math.log(0.625) + 0.375 * math.log(0.375)),
        rel_tol=1e-5,
    )
    assert torch.allclose(
        sampling_logprobs(logits, 1.0, 0.8).exp(), torch.tensor([[0.625, 0.375, 0.0]])
    )
    assert torch.allclose(
        sampling_logprobs(logits, 1.0, 0.81).exp(), torch.tensor([[0.5, 0.3, 0.2]])
    )


def test_draws_follow_the_distribution_and_skip_zero_mass() -> None:
    probs = torch.tensor([0.0, 0.5, 0.0, 0.3, 0.2, 0.0])
    logp = torch.log(probs).expand(40_000, -1)
    generator = torch.Generator().manual_seed(0)
    tokens = draw_from_logprobs(logp, generator)
    counts = torch.bincount(tokens, minlength=len(probs)).double() / len(tokens)
    assert counts[probs == 0].sum() == 0, "a token outside the nucleus was drawn"
    # 40k draws: a frequency's standard error is at most 0.0025, so 0.01 is four of them.
    assert torch.allclose(counts, probs.double(), atol=0.01), counts


def test_draw_picks_a_last_token_that_has_all_the_mass() -> None:
    logp = torch.log(torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))
    tokens = draw_from_logprobs(logp, torch.Generator().manual_seed(1))
    assert tokens.tolist() == [2, 0]


def test_temperature_scales_logits() -> None:
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    assert torch.allclose(sampling_logprobs(logits, 0.5, 1.0), torch.log_softmax(logits * 2, -1))
    assert torch.allclose(sampling_logprobs(logits, 0.0, 0.1), torch.log_softmax(logits, -1))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((-1, 1.0, 1.0, 1), "max_new_tokens"),
        ((5, -0.1, 1.0, 1), "temperature"),
        ((5, float("nan"), 1.0, 1), "temperature"),
        ((5, 1.0, 0.0, 1), "top_p"),
        ((5, 1.0, 1.5, 1), "top_p"),
        ((5, 1.0, 1.0, 0), "n"),
    ],
)
def test_bad_sampling_arguments(args: tuple[int, float, float, int], match: str) -> None:
    with pytest.raises(AZRConfigError, match=match):
        validate_sampling(*args)


# -- configuration errors ------------------------------------------------------------------
def test_unknown_backend_and_option() -> None:
    with pytest.raises(AZRConfigError, match="unknown policy backend"):
        load_policy(backend="tensorrt")
    with pytest.raises(AZRConfigError, match="unknown policy option"):
        load_policy(temprature=1.0)
    with pytest.raises(AZRConfigError, match="generation_dtype"):
        load_policy(generation_dtype="int4")
    with pytest.raises(AZRConfigError, match=r"build_policy\(config\)"):
        load_policy(PolicyConfig(seed=0))  # type: ignore[arg-type]


def test_missing_model_path(tmp_path: Any) -> None:
    with pytest.raises(AZRConfigError, match="does not exist"):
        load_policy(str(tmp_path / "no-such-model"))
    with pytest.raises(AZRConfigError, match="does not exist"):
        load_policy("./weights/model.gguf")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AZRConfigError, match=r"no config\.json"):
        resolve_model_source(str(tmp_path / "empty"))


def test_hub_id_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(AZRConfigError, match="pass its local folder"):
        load_policy("azr-nonexistent-org/azr-nonexistent-model")


def test_local_folder_round_trip(tmp_path: Any, policy: Any) -> None:
    policy.model.save_pretrained(tmp_path)
    policy.tokenizer.save_pretrained(tmp_path)
    loaded = load_policy(tmp_path, device="cpu", seed=0)  # a Path works as well as a str
    assert len(loaded.generate(["abc"], 3, 1.0)[0].token_ids) >= 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_vllm_without_gpu() -> None:
    with pytest.raises(AZRConfigError, match="CUDA GPU"):
        load_policy(backend="vllm")
    with pytest.raises(AZRConfigError, match="CUDA GPUs only"):
        load_policy(backend="vllm", device="cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_device_without_gpu() -> None:
    with pytest.raises(AZRConfigError, match="no CUDA GPU"):
        load_policy(device="cuda")


def test_vllm_config_validation() -> None:
    with pytest.raises(AZRConfigError, match="vllm_gpu_memory_utilization"):
        PolicyConfig.from_options(None, "vllm", {"vllm_gpu_memory_utilization": 1.5})
    with pytest.raises(AZRConfigError, match="vllm_tensor_parallel_size"):
        PolicyConfig.from_options(None, "vllm", {"vllm_tensor_parallel_size": 0})


def test_vllm_weight_mapping(policy: Any) -> None:
    params = [(f"_orig_mod.{n}", p) for n, p in policy.model.named_parameters()]
    mapped = dict(vllm_weight_items(params, tie_word_embeddings=True, dtype=torch.bfloat16))
    assert "lm_head.weight" not in mapped
    assert (
        "model.embed_tokens.weight" in mapped and "model.layers.0.self_attn.q_proj.weight" in mapped
    )
    assert all(t.dtype == torch.bfloat16 and not t.requires_grad for t in mapped.values())
    untied = dict(
        vllm_weight_items(
            [
                ("module.model._orig_mod.norm.weight", torch.ones(2)),
                ("lm_head.weight", torch.ones(2)),
            ],
            False,
        )
    )
    assert set(untied) == {"model.norm.weight", "lm_head.weight"}


# -- the embedded model ----------------------------------------------------------------------
@pytest.mark.slow
def test_embedded_model_generates_and_saves_as_a_plain_model(tmp_path: Path) -> None:
    policy = load_policy(seed=0)
    gens = policy.generate(
        ["What is 2 + 3? Answer in <answer></answer> tags."], max_new_tokens=8, temperature=1.0, n=2
    )
    assert len(gens) == 2 and all(1 <= len(g.token_ids) <= 8 for g in gens)
    batch = policy.logprobs(
        ["What is 2 + 3? Answer in <answer></answer> tags."] * 2, [g.token_ids for g in gens]
    )
    for row, g in enumerate(gens):
        assert torch.allclose(
            batch.logprobs[row, : len(g.token_ids)], torch.tensor(g.logprobs), atol=1e-3
        )
    # De-quantised from GGUF, it saves as a plain float model (checkpoints and `azr export`).
    from transformers import AutoModelForCausalLM

    from azr_agents.training.checkpoint import save_pretrained

    save_pretrained(tmp_path, policy.model, policy.tokenizer)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float32)
    ids = torch.tensor([policy.encode("def f(a):")])
    with torch.no_grad():
        assert torch.equal(reloaded(ids).logits, policy.model(ids).logits)


def test_int8_sampler_is_approximate_and_follows_weight_updates(make_policy: Any) -> None:
    policy = make_policy(generation_dtype="int8")
    assert not policy.exact_logprobs and make_policy().exact_logprobs
    gens = policy.generate(PROMPTS, max_new_tokens=6, temperature=1.0, stop=[])
    assert all(len(g.token_ids) == len(g.logprobs) > 0 for g in gens)
    layer = "model.layers.0.mlp.up_proj"
    with torch.no_grad():
        policy.model.get_submodule(layer).weight.mul_(-1.0)  # an in-place "optimizer step"
    policy.generate(["abc"], 2, 1.0)
    quantized = policy._gen_model.get_submodule(layer).weight().dequantize()
    master = policy.model.get_submodule(layer).weight
    scale = master.abs().amax(dim=1, keepdim=True) / 127
    assert torch.all((quantized - master).abs() <= scale * 0.51)


def test_prefill_batches_prompts_while_padding_costs_less_than_a_pass() -> None:
    from azr_agents.policies.transformers_backend import _prefill_groups

    # Short prompts of similar length: one padded forward. (indices, shortest first)
    assert _prefill_groups([30, 35, 31, 40]) == [[0, 2, 1, 3]]
    # A long prompt next to short ones would pad them all to its length: its own forward.
    assert _prefill_groups([30, 600, 31]) == [[0, 2], [1]]
    # 200 + 620 real tokens, 2 x 620 padded: more than 1.25 x real + 32, so two forwards;
    # 400 + 620 real, 1240 padded: within, so one.
    assert _prefill_groups([200, 620]) == [[0], [1]]
    assert _prefill_groups([400, 620]) == [[0, 1]]
