"""Stage kind sft: its settings and its record."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from constlang.declarations import Strict, ref, refs
from constlang.kinds._training import (
    CheckpointEvery,
    Epochs,
    LearningRate,
    LoraAlpha,
    LoraDropout,
    LoraRank,
    MaxLength,
    TrainBatchSize,
    TrainingSeed,
    training_cost,
)
from constlang.kinds.record import TRAINS_WEIGHTS, StageKind


class SFTSettings(Strict):
    from_: str | list[str] = refs(
        "stage", "The critique_revision stage whose revisions are trained on, or the best_of_n "
        "stage whose kept replies are; a list merges several.", alias="from")
    model: str | None = ref("model", "Base model to fine-tune; default: the stage's model.",
                            default=None)
    rounds: Literal["all", "last"] = Field(
        "all", description="Train on the revision of every round, or only the last (a "
        "best_of_n stage's rows are all its last)."
    )
    epochs: Epochs = 1.0
    learning_rate: LearningRate = 2e-5
    batch_size: TrainBatchSize = 8
    gradient_accumulation_steps: int = Field(1, ge=1, le=4096, description="Steps per update.")
    max_length: MaxLength = 512
    lora: bool = Field(False, description="Train LoRA adapters (peft) instead of all weights.")
    lora_r: LoraRank = 8
    lora_alpha: LoraAlpha = 16
    lora_dropout: LoraDropout = 0.05
    seed: TrainingSeed = 0
    checkpoint_every: CheckpointEvery = 500


KIND = StageKind(
    "sft", SFTSettings,
    "Fine-tunes the model on the revisions of a critique_revision stage, or the kept replies "
    "of a best_of_n stage (TRL).",
    "runtime-sft.md", training_cost,
    stage_refs={"from": ("critique_revision", "best_of_n")}, default_model=("from", "model"),
    base_model="model", local_models={"model": TRAINS_WEIGHTS})
