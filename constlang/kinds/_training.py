"""Stage kinds, shared: the settings every training stage has, and the cost of training."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from constlang.declarations import MAX_SEED, refs
from constlang.kinds.record import Cost, CostInputs

# The settings every training stage (sft, reward_model, dpo, ...) shares: one definition each,
# mapped onto TRL's configs by name in constlang.runtime.training. They are field types, not a
# base class, because pydantic puts inherited fields first and that would reorder plan JSON.
Epochs = Annotated[float, Field(gt=0.0, le=100.0, description="Passes over the data.")]
LearningRate = Annotated[float, Field(gt=0.0, le=1.0, description="Peak learning rate.")]
TrainBatchSize = Annotated[int, Field(ge=1, le=4096, description="Per-device batch size.")]
MaxLength = Annotated[int, Field(ge=16, le=1_000_000,
                                 description="Tokens per training row (or per pair member).")]
TrainingSeed = Annotated[int, Field(ge=0, le=MAX_SEED, description="Training seed.")]
LoraRank = Annotated[int, Field(ge=1, le=1024, description="LoRA rank.")]
LoraAlpha = Annotated[int, Field(ge=1, le=4096, description="LoRA scaling.")]
LoraDropout = Annotated[float, Field(ge=0.0, lt=1.0, description="LoRA dropout.")]
RewardWeight = Annotated[float, Field(
    ge=0.0, le=1000.0, description="Weight of the reward model's (or the judge's) score in a "
    "reply's reward: reward = reward_weight × score + the check rewards.")]


# the `checks` setting of an RL stage; one name alone is the list of that name
RewardChecks = Annotated[list[str], BeforeValidator(
    lambda v: [v] if isinstance(v, str) else v), Field(
    json_schema_extra={"ref": "check", "many": True},
    description="Checks that reward each reply: every check that applies to the prompt's tags "
    "adds its weight × (+1 pass, −1 fail) to the reward; with checks, `reward` may be left "
    "out.")]


CheckpointEvery = Annotated[int, Field(
    ge=0, le=10_000_000, description="Save a resumable checkpoint (weights, optimizer, "
    "scheduler, RNG) every this many optimizer steps, keeping the last; a killed run continues "
    "from it. 0: none.")]


def preference_sources() -> Any:
    """The `from` setting of a stage that trains on preference rows (reward_model, dpo)."""
    return refs("stage", "The feedback, revision_pairs or best_of_n stage(s) whose preferences "
                "are trained on; several are merged into one dataset.", alias="from")


# the kinds whose stages write preference rows (preferences.jsonl) that reward_model and dpo read
PREFERENCE_KINDS: tuple[str, ...] = ("feedback", "revision_pairs", "best_of_n")


def training_cost(s: Any, inputs: CostInputs) -> Cost:
    """A training stage calls no model for text: its cost is its epochs."""
    return Cost(None, 0, 0, f"training, {s.epochs:g} epoch{'' if s.epochs == 1 else 's'}")
