"""SFT stage: fine-tune the policy on the critique_revision stage's revisions with TRL."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from constlang import plan as P
from constlang.files import publish_dir, staging_dir
from constlang.runtime.critique_revision import SFT_ROWS
from constlang.runtime.rundir import MetricsLog

MODEL_DIR = "model"


class SFTDataError(Exception):
    """The upstream stage left nothing to train on."""


def training_rows(sft_path: Path, rounds: str) -> list[dict[str, Any]]:
    """Prompt/completion rows from the upstream sft.jsonl, per the stage's `rounds` setting.

    all: every round's revision, a text repeated within a prompt (a skipped round) once;
    last: each prompt's final answer. The conversational prompt/completion form makes TRL
    compute the loss on the assistant's reply only.
    """
    if not sft_path.is_file():
        raise SFTDataError(f"no training data: {sft_path} does not exist")
    out: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    for line in sft_path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        user, assistant = row["messages"]
        if rounds == "last" and not row["last"]:
            continue
        key = (row["index"], assistant["content"])
        if key in seen:
            continue
        seen.add(key)
        out.append({"prompt": [user], "completion": [assistant]})
    if not out:
        raise SFTDataError(f"no training data: {sft_path} has no rows")
    return out


def model_card(plan: P.Plan, stage: P.SFTStage, base: P.Model, rows: int) -> str:
    """The README.md saved next to the fine-tuned model."""
    c = plan.constitution
    s = stage.settings
    settings = json.dumps(s.model_dump(mode="json", by_alias=True), indent=2)
    return (
        "---\nlibrary_name: transformers\ntags: [constlang, constitutional-ai, sft, trl]\n---\n\n"
        f"# {c.name} {c.version}: supervised policy\n\n"
        f"Fine-tuned by constlang stage `{stage.name}` on the revisions of stage `{s.from_}` "
        "(Constitutional AI, supervised phase).\n\n"
        f"- Constitution: `{c.name}`, version `{c.version}`\n"
        f"- Plan hash: `{plan.hash or plan.compute_hash()}`\n"
        f"- Base model: `{base.id}` (`{base.source}`)\n"
        f"- Training rows: {rows} (rounds = `{s.rounds}`)\n"
        f"- LoRA: {'yes, merged into the weights' if s.lora else 'no, full fine-tune'}\n\n"
        f"{c.description.strip()}\n\n## Settings\n\n```json\n{settings}\n```\n"
    )


def _callbacks(metrics: MetricsLog, progress: Callable[[int, int], None] | None) -> list[Any]:
    from transformers import TrainerCallback

    class Report(TrainerCallback):  # type: ignore[misc]
        """Send the trainer's logs to metrics.jsonl and its steps to the progress bar."""

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None,
                   **kwargs: Any) -> None:
            if logs:
                metrics.log(**{"event": "train", "step": state.global_step, **logs})

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if progress:
                progress(state.global_step, state.max_steps)

    return [Report()]


def run_sft(plan: P.Plan, stage_name: str, *, base_dir: Path, upstream_dir: Path,
            out_dir: Path, device: str, metrics: MetricsLog,
            on_ready: Callable[[], None] | None = None,
            progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Fine-tune the stage's model on the upstream revisions; save it in out_dir/model.

    `on_ready` is called once the data and the model are loaded, before anything is written.
    """
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    from constlang.runtime.models import load_model

    stage: P.SFTStage = plan.stage(stage_name)
    s = stage.settings
    rows = training_rows(upstream_dir / SFT_ROWS, s.rounds)
    upstream = plan.stage(s.from_)
    base = plan.model(s.model or upstream.settings.model)
    loaded = load_model(base, device=device, base_dir=base_dir)
    tokenizer = loaded.tokenizer
    if on_ready:
        on_ready()
    on_gpu = device.startswith("cuda")
    fields = {f.name for f in dataclasses.fields(SFTConfig)}
    # saves GPU memory, only slows a CPU step; renamed activation_checkpointing in transformers 5
    checkpointing: dict[str, Any] = {("activation_checkpointing" if "activation_checkpointing"
                                      in fields else "gradient_checkpointing"): on_gpu}
    steps = math.ceil(len(rows) / (s.batch_size * s.gradient_accumulation_steps)) * s.epochs
    config = SFTConfig(
        output_dir=str(out_dir / "trainer"), num_train_epochs=s.epochs,
        learning_rate=s.learning_rate, per_device_train_batch_size=s.batch_size,
        gradient_accumulation_steps=s.gradient_accumulation_steps, max_length=s.max_length,
        seed=s.seed, data_seed=s.seed, use_cpu=not on_gpu,
        bf16=on_gpu and _bf16_supported(), fp16=False,
        **checkpointing,
        report_to=os.environ.get("CONSTLANG_REPORT_TO", "none"), save_strategy="no",
        logging_steps=max(1, int(steps) // 20), disable_tqdm=True, dataset_num_proc=None,
    )
    peft_config = None
    if s.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=s.lora_r, lora_alpha=s.lora_alpha, lora_dropout=s.lora_dropout,
                                 target_modules="all-linear", task_type="CAUSAL_LM")
    with warnings.catch_warnings():
        # library deprecation notices (peft ↔ transformers) are not the user's to act on
        warnings.simplefilter("ignore", FutureWarning)
        trainer = SFTTrainer(model=loaded.model, args=config,
                             train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                             peft_config=peft_config, callbacks=_callbacks(metrics, progress))
        trainer.remove_callback(PrinterCallback)  # metrics.jsonl and our progress bar replace it
        result = trainer.train()
    model: Any = trainer.model
    if s.lora:
        model = model.merge_and_unload()  # downstream stages load a plain model directory
    final = out_dir / MODEL_DIR
    staging = staging_dir(final)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / "README.md").write_text(model_card(plan, stage, base, len(rows)), "utf-8")
    publish_dir(staging, final)
    shutil.rmtree(out_dir / "trainer", ignore_errors=True)
    return {"rows": len(rows), "steps": result.global_step,
            "train_loss": round(float(result.training_loss), 6),
            "seconds": round(float(result.metrics.get("train_runtime", 0.0)), 3)}


def _bf16_supported() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
