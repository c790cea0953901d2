"""Stage kinds grpo and rloo, shared: their settings base, their cost estimate, their record."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from constlang.declarations import Strict, ref
from constlang.kinds import _steps
from constlang.kinds._training import (
    CheckpointEvery,
    LearningRate,
    LoraAlpha,
    LoraDropout,
    LoraRank,
    RewardChecks,
    RewardWeight,
    TrainingSeed,
)
from constlang.kinds.record import TRAINS_WEIGHTS, Cost, CostInputs, StageKind, When
from constlang.words import counted


class GroupSettings(Strict):
    """What GRPO and RLOO share: rewards of a group of completions per prompt, each compared
    with the others of its group. A base class is safe here: its fields come first, as wanted."""

    policy: str = ref("stage|model", "The policy to optimise (usually the sft stage).")
    reward_source: Literal["reward_model", "judge"] = Field(
        "reward_model", description="What scores a completion: reward_model: the score of the "
        "`reward` stage's model; judge: the probability the `judge` model gives the good answer "
        "of `judge_question` (no reward model needed).")
    reward: str | None = ref("stage", "The reward_model stage that scores completions (with "
                             "reward_source = reward_model; optional with `checks`).",
                             default=None)
    checks: RewardChecks = []
    reward_weight: RewardWeight = 1.0
    judge: str | None = ref("model", "The model that scores completions (with reward_source = "
                            "judge); a frozen copy, even when it is the policy's model.",
                            default=None)
    judge_question: str | None = ref(
        "question", "The pointwise question the judge answers about each completion.",
        default=None)
    prompts: str = ref("dataset", "Prompts to sample completions for.")
    steps: int = Field(100, ge=1, le=10_000_000, description="Optimizer updates.")
    num_generations: int = Field(
        4, ge=2, le=1024, description="Completions sampled per prompt: the group whose rewards "
        "are compared with each other.")
    batch_size: int = Field(
        8, ge=1, le=4096, description="Completions per micro-batch; batch_size × "
        "gradient_accumulation_steps must be a multiple of num_generations.")
    gradient_accumulation_steps: int = Field(
        1, ge=1, le=4096, description="Micro-batches per optimizer update (sampled together).")
    iterations: int = Field(
        1, ge=1, le=64, description="Updates on each batch of completions before sampling "
        "again; above 1 the clipped probability ratio limits how far each update goes.")
    learning_rate: LearningRate = 1e-6
    beta: float = Field(0.05, ge=0.0, le=10.0, description="KL penalty to the starting policy "
                        "(0: no reference model is kept, and nothing holds the policy near it).")
    clip_range: float = Field(0.2, gt=0.0, le=1.0, description="Policy ratio clip.")
    max_new_tokens: int = Field(64, ge=1, le=32768, description="Completion length.")
    temperature: float = Field(1.0, gt=0.0, le=2.0, description="Sampling temperature.")
    mask_truncated: bool = Field(
        False, description="Leave completions cut off at max_new_tokens out of the loss.")
    seed: TrainingSeed = 0
    checkpoint_every: CheckpointEvery = 25
    lora: bool = Field(False, description="Train LoRA adapters (peft); the reference is then the "
                       "policy with its adapters switched off, not a second copy.")
    lora_r: LoraRank = 8
    lora_alpha: LoraAlpha = 16
    lora_dropout: LoraDropout = 0.05
    respond_template: str = ref("template", "Template of the prompt the policy answers.",
                                default="respond_prompt")
    pointwise_template: str = ref("template", "Template of the judge's question.",
                                  default="pointwise_prompt")


def cost(s: GroupSettings, inputs: CostInputs) -> Cost:
    """The completions sampled (each scored once, or also judged) over every update."""
    # each sampled batch (batch_size × accumulation completions) serves `iterations` updates
    completions = -(-s.steps * s.batch_size * s.gradient_accumulation_steps // s.iterations)
    judged = f", each scored by `{s.judge}`" if s.reward_source == "judge" else ""
    calls = completions * (2 if judged else 1)
    return Cost(None, calls, completions * s.max_new_tokens,
                f"{counted(s.steps, 'update')}, {counted(s.num_generations, 'completion')} per "
                f"prompt{judged}")


def group_kind(name: str, settings: type[GroupSettings], label: str) -> StageKind:
    """The record of a group-relative kind; `label` names its algorithm (GRPO, RLOO)."""
    return StageKind(
        name, settings, f"Optimises the policy with {label}: groups of completions per prompt, "
        "each scored by the reward model (or the judge) and the checks against its group (TRL).",
        f"runtime-{name}.md", cost,
        steps=(_steps.respond("policy"), _steps.judge(When.JUDGE_REWARD)),
        stage_refs={"policy": _steps.POLICY_KINDS, "reward": ("reward_model",)},
        base_model="policy",
        local_models={"policy": TRAINS_WEIGHTS,
                      "judge": f"the judge of {name} runs in-process during training"},
        needs={"reward_source=reward_model": ("reward|checks", "the reward_model stage that "
                                              "scores completions, checks, or both, e.g. "
                                              "reward = reward_model"),
               "reward_source=judge": ("judge", "the model that scores completions"),
               "judge": ("judge_question", "the pointwise question the judge answers about "
                                           "each completion, e.g. judge_question = is_safe")})
