"""Stage kind reward_model: its settings and its record."""

from __future__ import annotations

from pydantic import Field

from constlang.declarations import Strict, ref
from constlang.kinds._training import (
    PREFERENCE_KINDS,
    CheckpointEvery,
    Epochs,
    LearningRate,
    LoraAlpha,
    LoraDropout,
    LoraRank,
    MaxLength,
    TrainBatchSize,
    TrainingSeed,
    preference_sources,
    training_cost,
)
from constlang.kinds.record import TRAINS_WEIGHTS, StageKind


class RewardModelSettings(Strict):
    from_: str | list[str] = preference_sources()
    model: str | None = ref("model", "Base model of the reward model; default: the judge.",
                            default=None)
    soft_labels: bool = Field(True, description="Train on soft targets instead of hard pairs.")
    epochs: Epochs = 1.0
    learning_rate: LearningRate = 1e-5
    batch_size: TrainBatchSize = 8
    max_length: MaxLength = 512
    seed: TrainingSeed = 0
    checkpoint_every: CheckpointEvery = 500
    eval_fraction: float = Field(
        0.1, ge=0.0, le=0.5, description="Share of the pairs held out to measure the model "
        "(accuracy, margin, calibration).")
    lora: bool = Field(False, description="Train LoRA adapters (peft) instead of all weights.")
    lora_r: LoraRank = 8
    lora_alpha: LoraAlpha = 16
    lora_dropout: LoraDropout = 0.05


KIND = StageKind(
    "reward_model", RewardModelSettings,
    "Trains a reward model on the preference labels of a feedback stage.",
    "runtime-reward-model.md", training_cost,
    stage_refs={"from": PREFERENCE_KINDS}, default_model=("from", "judge"),
    base_model="model", local_models={"model": TRAINS_WEIGHTS})
