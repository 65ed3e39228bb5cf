"""Tiny random language models built locally, for tests and offline examples.

Nothing is downloaded: the tokenizer maps every byte to one token and carries a ChatML chat
template; the model is a two-layer Llama of width 32, so generating and training steps take
milliseconds. `save_tiny_model(folder)` writes both where `load_policy(folder)` can load them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

LOGIT_SCALE = 25.0
"""Sharpens the random model's logits, so that sampling is not near-uniform and top-p bites."""

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_tokenizer() -> Any:
    """A byte-level tokenizer (one token per byte) with pad/bos/eos and a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    specials = ["<pad>", "<|im_start|>", "<|im_end|>"]
    vocab = {tok: i for i, tok in enumerate(specials + alphabet)}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=backend, pad_token="<pad>", eos_token="<|im_end|>",
        bos_token="<|im_start|>",
    )
    tokenizer.add_special_tokens({"additional_special_tokens": specials[1:]})
    tokenizer.chat_template = CHATML
    return tokenizer


def build_tiny_model(vocab_size: int, seed: int = 0, max_positions: int = 4096) -> Any:
    """A random two-layer Llama (eval mode)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=max_positions,
        tie_word_embeddings=False, pad_token_id=0, eos_token_id=2, bos_token_id=1,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.mul_(LOGIT_SCALE)
    return model.eval()  # type: ignore[no-untyped-call]


def save_tiny_model(folder: Path, seed: int = 0) -> Path:
    """Write a tiny model and its tokenizer to `folder` (a `load_policy` model path)."""
    tokenizer = build_tiny_tokenizer()
    model = build_tiny_model(len(tokenizer), seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
