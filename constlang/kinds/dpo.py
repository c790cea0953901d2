"""Stage kind dpo: its settings and its record."""

from __future__ import annotations

from typing import Literal

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


class DPOSettings(Strict):
    from_: str | list[str] = preference_sources()
    policy: str = ref("stage|model", "The policy to optimise (usually the sft stage).")
    beta: float = Field(0.1, gt=0.0, le=10.0, description="Strength of the implicit KL.")
    loss: Literal["sigmoid", "robust", "ipo", "hinge"] = Field(
        "sigmoid", description="sigmoid: DPO; robust: DPO corrected for labels flipped with "
        "probability `label_smoothing` (rDPO); ipo: IPO; hinge: SLiC.")
    label_smoothing: float | None = Field(
        None, ge=0.0, lt=0.5, description="With `loss = robust`: the share of flipped labels; "
        "left out, it is estimated from the pairs as the mean of 1 − p_chosen.")
    epochs: Epochs = 1.0
    learning_rate: LearningRate = 5e-7
    batch_size: TrainBatchSize = 8
    gradient_accumulation_steps: int = Field(1, ge=1, le=4096,
                                             description="Batches per optimizer step.")
    max_length: MaxLength = 512
    seed: TrainingSeed = 0
    checkpoint_every: CheckpointEvery = 500
    lora: bool = Field(False, description="Train LoRA adapters (peft); the reference is then the "
                       "policy with its adapters switched off, not a second copy.")
    lora_r: LoraRank = 8
    lora_alpha: LoraAlpha = 16
    lora_dropout: LoraDropout = 0.05


KIND = StageKind(
    "dpo", DPOSettings,
    "Optimises the policy straight from the preference labels (DPO).",
    "runtime-dpo.md", training_cost,
    stage_refs={"from": PREFERENCE_KINDS, "policy": ("sft",)},
    base_model="policy", local_models={"policy": TRAINS_WEIGHTS})
