"""A tiny random Llama and a byte-level tokenizer with a ChatML template, built locally.

Nothing is downloaded: the tokenizer maps every byte to one token (so stop strings are easy to
reason about) and the model has two layers of width 32, so a test generates in milliseconds.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from azr_agents.policies.config import PolicyConfig
from azr_agents.policies.transformers_backend import TransformersPolicy

LOGIT_SCALE = 25.0  # sharpens the random model's logits: mean token log-prob about -2.8

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tokenizer() -> Any:
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    specials = ["<pad>", "<|im_start|>", "<|im_end|>"]
    vocab = {tok: i for i, tok in enumerate(specials + alphabet)}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        eos_token="<|im_end|>",
        bos_token="<|im_start|>",
    )
    tokenizer.add_special_tokens({"additional_special_tokens": specials[1:]})
    tokenizer.chat_template = CHATML
    return tokenizer


def build_model(vocab_size: int, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=False,
        pad_token_id=0,
        eos_token_id=2,
        bos_token_id=1,
    )
    model = LlamaForCausalLM(config)
    # Sharper logits than the default init, so that sampling is not near-uniform and top-p bites.
    with torch.no_grad():
        model.lm_head.weight.mul_(LOGIT_SCALE)
    return model.eval()


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    return build_tokenizer()


@pytest.fixture
def make_policy(tokenizer: Any) -> Any:
    def make(**options: Any) -> TransformersPolicy:
        options.setdefault("seed", 0)
        return TransformersPolicy(build_model(len(tokenizer)), tokenizer, PolicyConfig(**options))

    return make


@pytest.fixture
def policy(make_policy: Any) -> TransformersPolicy:
    policy: TransformersPolicy = make_policy()
    return policy
