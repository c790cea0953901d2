"""The SFT stage: which rows it trains on, the model card, and a LoRA run on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from constlang.compile import compile_path
from constlang.runtime.rundir import RunDir
from constlang.runtime.stages.critique_revision import CritiqueRevisionDir
from constlang.runtime.stages.sft import (
    SFTDataError,
    load_sft,
    model_card,
    train_sft,
    training_rows,
)


def sft_row(index: int, round_: int, text: str, *, last: bool, skipped: bool = False,
            drop: str | None = None) -> dict:
    return {"messages": [{"role": "user", "content": f"Q{index}"},
                         {"role": "assistant", "content": text}],
            "index": index, "round": round_, "skipped": skipped, "last": last, "drop": drop}


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return path


ROWS = [
    sft_row(0, 1, "a1", last=False), sft_row(0, 2, "a2", last=True),
    # prompt 1: round 2 was skipped, so its text repeats round 1's
    sft_row(1, 1, "b1", last=False), sft_row(1, 2, "b1", last=True, skipped=True),
]


def test_all_rounds_keep_each_distinct_revision_once(tmp_path: Path) -> None:
    rows = training_rows(write_rows(tmp_path / "sft.jsonl", ROWS), "all")
    assert [(r["prompt"][0]["content"], r["completion"][0]["content"]) for r in rows] == [
        ("Q0", "a1"), ("Q0", "a2"), ("Q1", "b1")]
    assert rows[0]["prompt"][0]["role"] == "user"
    assert rows[0]["completion"][0]["role"] == "assistant"


def test_last_round_keeps_the_final_answers(tmp_path: Path) -> None:
    rows = training_rows(write_rows(tmp_path / "sft.jsonl", ROWS), "last")
    assert [r["completion"][0]["content"] for r in rows] == ["a2", "b1"]


def test_no_rows_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SFTDataError, match="does not exist"):
        training_rows(tmp_path / "missing.jsonl", "all")
    with pytest.raises(SFTDataError, match="has no row worth training on"):
        training_rows(write_rows(tmp_path / "sft.jsonl", []), "all")


def test_dropped_rows_are_never_targets(tmp_path: Path) -> None:
    rows = [sft_row(0, 1, "a0", last=False, skipped=True, drop="skipped"),  # the first answer
            sft_row(0, 2, "a1", last=True, drop="truncated"),
            sft_row(1, 1, "b1", last=True), sft_row(2, 1, "c1", last=True, drop="meta")]
    path = write_rows(tmp_path / "sft.jsonl", rows)
    assert [r["completion"][0]["content"] for r in training_rows(path, "all")] == ["b1"]
    assert [r["completion"][0]["content"] for r in training_rows(path, "last")] == ["b1"]
    with pytest.raises(SFTDataError, match="sft_dropped"):
        training_rows(write_rows(tmp_path / "none.jsonl", rows[:2]), "all")


CONSTITUTION = """constlang 1

constitution "sft-test" {{ version = "0.3.0"  description = "A test constitution." }}

principle p {{ critique = "c"  revision = "r" }}
model tiny {{ source = "{model}" }}
dataset d {{ path = "prompts.jsonl" }}

stage critique_revision {{ model = tiny  prompts = d  keep_truncated = true }}
stage sft {{
  from = critique_revision
  lora = true
  lora_r = 4
  batch_size = 2
  epochs = 1
  learning_rate = 0.001
  max_length = 64
}}
"""


def test_lora_run_saves_a_merged_model_with_a_model_card(tmp_path: Path,
                                                          tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    (tmp_path / "c.const").write_text(CONSTITUTION.format(model=tiny_model_dir), "utf-8")
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "x"}\n', "utf-8")
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    run = RunDir(tmp_path / "run")
    upstream = CritiqueRevisionDir.of(run.stage("critique_revision"))
    folder = run.stage("sft")
    upstream.path.mkdir(parents=True)
    write_rows(upstream.sft_data, ROWS)
    out = folder.path
    inputs = load_sft(result.plan, "sft", base_dir=result.base_dir, upstream=upstream,
                      device="cpu")
    assert not out.exists()  # loading the data and the model writes nothing
    metrics = train_sft(result.plan, inputs, out=folder, device="cpu")
    assert metrics["rows"] == 3 and metrics["steps"] == 2
    saved = folder.model
    assert not (saved / "adapter_config.json").exists()  # adapters are merged
    model = AutoModelForCausalLM.from_pretrained(saved)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    name = "model.layers.0.self_attn.q_proj.weight"
    tuned, before = model.state_dict()[name], base.state_dict()[name]
    assert tuned.shape == before.shape and not tuned.equal(before)  # the training took effect
    card = (saved / "README.md").read_text("utf-8")
    assert result.plan.hash in card and "sft-test" in card and "0.3.0" in card
    assert card == model_card(result.plan, result.plan.stage("sft"),
                              result.plan.model("tiny"), 3)
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [e for e in logged if "loss" in e]  # 2 steps: logged every step
    assert [(e["event"], e["step"]) for e in steps] == [("train", 1), ("train", 2)]
    assert metrics["train_loss"] == pytest.approx(sum(e["loss"] for e in steps) / 2, abs=1e-5)
    assert [e["event"] for e in logged] == ["train"] * 3  # the two steps, then the summary
    assert not (out / "trainer").exists()


def test_full_fine_tunes_on_a_gpu_keep_float32_master_weights() -> None:
    from constlang.kinds.sft import SFTSettings
    from constlang.runtime.training import weights_dtype

    full, lora = SFTSettings(**{"from": "c"}), SFTSettings(**{"from": "c", "lora": True})
    assert weights_dtype(full, "cuda") == weights_dtype(full, "cuda:1") == "float32"
    assert weights_dtype(lora, "cuda") is None  # the frozen base keeps its declared dtype
    assert weights_dtype(full, "cpu") is None  # auto is float32 on a CPU anyway
