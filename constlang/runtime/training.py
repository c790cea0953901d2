"""Training, shared: TRL configs from stage settings, the metrics callback, the saved model."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from constlang.files import read_own, remove_own
from constlang.runtime import resources
from constlang.runtime.rundir import STATE_LIMIT, MetricsLog, StageDir

REPORT_TO_ENV = "CONSTLANG_REPORT_TO"  # e.g. "wandb" or "tensorboard"; default none
CHECKPOINT = re.compile(r"checkpoint-([0-9]{1,12})")  # the trainer's checkpoint folders
TRAINER_STATE = "trainer_state.json"  # the file transformers writes last into a checkpoint

# stage setting → the field of a transformers/TRL TrainingArguments it sets
TRAINER_FIELDS = {
    "epochs": "num_train_epochs", "learning_rate": "learning_rate",
    "batch_size": "per_device_train_batch_size",
    "gradient_accumulation_steps": "gradient_accumulation_steps", "max_length": "max_length",
    "seed": "seed",
}


def bf16_supported() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def weights_dtype(settings: Any, device: str) -> str | None:
    """The dtype to load a model for training in: a full fine-tune on a GPU keeps float32
    master weights and trains under bf16/fp16 autocast (the trainer's mixed precision) —
    AdamW on bf16 weights loses small updates to rounding; LoRA trains float32 adapters on a
    frozen base, which may stay in the model's own dtype. None: the model's declared dtype."""
    if device.startswith("cuda") and not getattr(settings, "lora", False):
        return "float32"
    return None


def trainer_config(config_class: type[Any], settings: Any, folder: StageDir, device: str,
                   rows: int, **overrides: Any) -> Any:
    """A TRL config (SFTConfig, RewardConfig, DPOConfig, ...) for a training stage.

    Every stage setting named in TRAINER_FIELDS that the settings class has is carried over;
    the rest (device, precision, logging, no checkpoints, no tqdm) is the same for every stage.
    `overrides` are the stage's own extra fields.
    """
    fields = {f.name for f in dataclasses.fields(config_class)}
    values: dict[str, Any] = {target: getattr(settings, name)
                              for name, target in TRAINER_FIELDS.items()
                              if hasattr(settings, name) and target in fields}
    on_gpu = device.startswith("cuda")
    # saves GPU memory, only slows a CPU step; renamed activation_checkpointing in transformers 5
    checkpointing = ("activation_checkpointing" if "activation_checkpointing" in fields
                     else "gradient_checkpointing")
    per_step = values.get("per_device_train_batch_size", 1) * values.get(
        "gradient_accumulation_steps", 1)
    steps = math.ceil(rows / per_step) * values.get("num_train_epochs", 1)
    values.update(
        output_dir=str(folder.trainer), data_seed=values.get("seed", 0), use_cpu=not on_gpu,
        bf16=on_gpu and bf16_supported(), fp16=on_gpu and not bf16_supported(),
        report_to=os.environ.get(REPORT_TO_ENV, "none"),
        **checkpoints(getattr(settings, "checkpoint_every", 0)),
        logging_steps=max(1, int(steps) // 20),
        disable_tqdm=True, **{checkpointing: on_gpu})
    if "dataset_num_proc" in fields:
        values["dataset_num_proc"] = None
    values.update(overrides)
    return config_class(**values)


def checkpoints(every: int) -> dict[str, Any]:
    """The trainer's checkpoint settings: every `every` steps, only the last kept."""
    if every <= 0:
        return {"save_strategy": "no"}
    return {"save_strategy": "steps", "save_steps": every, "save_total_limit": 1}


def last_checkpoint(folder: StageDir) -> Path | None:
    """The newest complete checkpoint the trainer saved in the stage's scratch folder.

    transformers writes a checkpoint's trainer_state.json last, and not atomically: a
    checkpoint without one that reads as a JSON object with a whole-number `global_step` was
    cut short by a kill while saving, and is passed over for the one before it.
    """
    try:
        entries = os.listdir(folder.trainer)
    except (FileNotFoundError, NotADirectoryError):
        return None
    found = [(int(m[1]), name) for name in entries
             if (m := CHECKPOINT.fullmatch(name)) and _complete(folder.trainer / name)]
    return folder.trainer / max(found)[1] if found else None


def _complete(checkpoint: Path) -> bool:
    try:
        state = json.loads(read_own(checkpoint / TRAINER_STATE, STATE_LIMIT))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(state, dict) and type(state.get("global_step")) is int


def resume_note(folder: StageDir) -> str | None:
    """What a training stage resumes from, for the runner's message; None: no checkpoint."""
    found = last_checkpoint(folder)
    return f"its last checkpoint ({found.name})" if found else None


def lora_config(settings: Any, task_type: str = "CAUSAL_LM") -> Any:
    """The peft LoRA config of a stage that sets `lora = true`, else None."""
    if not getattr(settings, "lora", False):
        return None
    from peft import LoraConfig

    return LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha,
                      lora_dropout=settings.lora_dropout, target_modules="all-linear",
                      task_type=task_type)


def report_callback(metrics: MetricsLog, progress: Callable[[int, int], None] | None,
                    into: dict[str, float] | None = None) -> Any:
    """A trainer callback that sends the trainer's logs to metrics.jsonl (and their latest
    values to `into`) and its steps to the progress bar."""
    from transformers import TrainerCallback

    class MetricsCallback(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None,
                   **kwargs: Any) -> None:
            if logs:
                metrics.log(**{"event": "train", "step": state.global_step, **logs})
                if into is not None:
                    into.update({k: v for k, v in logs.items() if isinstance(v, int | float)})

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if progress:
                progress(state.global_step, state.max_steps)

    return MetricsCallback()


@contextmanager
def quiet_trainer() -> Iterator[None]:
    """Library deprecation notices (peft ↔ transformers) are not the user's to act on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


def train(trainer: Any, resume_from: Path | None = None) -> Any:
    """Run a configured trainer with our progress and metrics instead of its printer; from a
    checkpoint (weights, optimizer, scheduler, RNG and data position) when given."""
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # metrics.jsonl and our progress bar replace it
    resources.note_training(trainer.model, resources.trainer_precision(trainer))
    with quiet_trainer():
        return trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)


def save_model(model: Any, tokenizer: Any, folder: StageDir, card: str, *,
               lora: bool = False) -> Path:
    """Publish a trained model (LoRA adapters merged in) with its tokenizer and model card as
    the stage's model folder, in one step; removes the trainer's scratch folder."""
    from constlang.runtime.models import save_model as publish_model

    if lora:
        model = model.merge_and_unload()  # downstream stages load a plain model directory
    publish_model(model, tokenizer, folder.model, readme=card)
    with suppress(OSError):  # scratch: left behind, it costs space, not correctness
        remove_own(folder.trainer)
    return folder.model


def train_metrics(result: Any, rows: int) -> dict[str, Any]:
    """The manifest metrics of a finished trainer run."""
    return {"rows": rows, "steps": result.global_step,
            "train_loss": round(float(result.training_loss), 6),
            "seconds": round(float(result.metrics.get("train_runtime", 0.0)), 3)}
