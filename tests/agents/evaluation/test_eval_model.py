"""End to end: `azr eval --model DIR --limit 3` on a tiny random Llama saved locally."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from azr_agents.cli import main


def _save_tiny_model(path: Path) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    specials = ["<pad>", "<|im_start|>", "<|im_end|>"]
    backend = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(specials + alphabet)},
                                   merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>",
                                        eos_token="<|im_end|>", bos_token="<|im_start|>")
    torch.manual_seed(0)
    # Byte-level tokens: the R1 prompts are ~3000 tokens, hence the long position range.
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=8192, pad_token_id=0, eos_token_id=2,
                         bos_token_id=1)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)


@pytest.mark.slow
def test_tiny_model_eval_limit_3(tmp_path: Path) -> None:
    model = tmp_path / "tiny"
    _save_tiny_model(model)
    out = tmp_path / "results.json"
    code = main(["eval", "--model", str(model), "--suite", "cruxeval-o,humaneval", "--limit", "3",
                 "--max-new-tokens", "8", "--out", str(out), "--no-progress"])
    assert code == 0
    doc = json.loads(out.read_text())
    assert [(r["suite"], r["problems"], r["samples"]) for r in doc["results"]] == [
        ("cruxeval-o", 3, 1), ("humaneval", 3, 1)]
    assert all(r["pass_at_1"] == 0.0 for r in doc["results"])  # random weights: malformed
    assert all(len(v) == 1 for r in doc["results"] for v in r["raw_generations"].values())
    assert out.with_suffix(".png").exists()
