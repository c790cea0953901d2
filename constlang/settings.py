"""Stage settings: the typed, range-checked settings of each stage kind (one class a kind)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from constlang.declarations import MAX_SEED, Strict, ref, refs, selection

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
CheckpointEvery = Annotated[int, Field(
    ge=0, le=10_000_000, description="Save a resumable checkpoint (weights, optimizer, "
    "scheduler, RNG) every this many optimizer steps, keeping the last; a killed run continues "
    "from it. 0: none.")]


class CritiqueRevisionSettings(Strict):
    model: str = ref("model", "The model that answers, critiques and revises.")
    prompts: str = ref("dataset", "Red-team prompts to answer.")
    principles: list[str] = selection("principle", "Principles to sample from.")
    sampling: Literal["per_revision", "per_prompt", "in_order"] = Field(
        "per_revision",
        description="per_revision: a fresh principle at each revision step, with replacement; "
        "per_prompt: one principle for all rounds of a prompt; in_order: every selected "
        "principle in turn.",
    )
    revisions: int = Field(4, ge=1, le=64, description="Critique/revision rounds per prompt.")
    examples: list[str] = selection("example", "Few-shot examples shown to the model.")
    skip_when_no_critique: bool = Field(
        False, description="Skip the revision when the critique contains `no_critique_marker`."
    )
    no_critique_marker: str = Field(
        "no critique needed", description="Phrase that marks an answer needing no change."
    )
    judge: str | None = ref(
        "model", "A model that scores the first answer and every revision with `judge_question` "
        "(did revising help?).", default=None)
    judge_question: str | None = ref(
        "question", "The pointwise question the judge answers about each reply.", default=None)
    drop_worse: bool = Field(
        True, description="Leave out revisions the judge scores below the reply they revise.")
    pointwise_template: str = ref("template", "Template of the judge's question.",
                                  default="pointwise_prompt")
    helpful_prompts: str | None = ref(
        "dataset", "Prompts the model answers once, unrevised, to mix helpful replies into the "
        "SFT data (the CAI paper mixes in helpfulness samples).", default=None)
    keep_truncated: bool = Field(
        False, description="Keep revisions cut off at max_new_tokens as SFT targets.")
    drop_unchanged: bool = Field(
        True, description="Leave out revisions (nearly) identical to the reply they revise.")
    drop_meta: bool = Field(
        True, description="Leave out revisions that comment on the reply instead of being one.")
    batch_size: int = Field(8, ge=1, le=4096, description="Prompts generated together.")
    seed: int = Field(0, ge=0, le=MAX_SEED,
                      description="Seed for principle sampling and generation.")
    respond_template: str = ref("template", "Template of the first answer.",
                                default="respond_prompt")
    critique_template: str = ref("template", "Template of a critique.", default="critique_prompt")
    revision_template: str = ref("template", "Template of a revision.", default="revision_prompt")


class SFTSettings(Strict):
    from_: str = ref("stage", "The critique_revision stage whose revisions are trained on.",
                     alias="from")
    model: str | None = ref("model", "Base model to fine-tune; default: the stage's model.",
                            default=None)
    rounds: Literal["all", "last"] = Field(
        "all", description="Train on the revision of every round, or only the last."
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


class FeedbackSettings(Strict):
    policy: str = ref("stage|model", "The sft stage (or a model) that samples response pairs.")
    judge: str = ref("model", "The model that answers the preference questions.")
    prompts: str = ref("dataset", "Prompts to sample responses for.")
    questions: list[str] = selection("question", "Questions to sample from.")
    question_sampling: Literal["per_comparison", "all"] = Field(
        "per_comparison",
        description="per_comparison: one question sampled per pair; all: average over all.",
    )
    examples: list[str] = Field(default_factory=list, json_schema_extra={"ref": "example",
                                "selection": True}, description="Few-shot examples for the judge.")
    swap_positions: bool = Field(True, description="Score both orders and average.")
    chain_of_thought: bool = Field(
        False, description="The judge writes a rationale first; the question is then asked in "
        "the same conversation, after it.")
    rationale_temperature: float = Field(
        0.0, ge=0.0, le=2.0, description="Sampling temperature of the rationale (0: greedy).")
    clamp: list[float] | None = Field(
        None, min_length=2, max_length=2, description="[low, high] bounds for each question's "
        "probability; with chain_of_thought the default is [0.4, 0.6] (chain-of-thought "
        "probabilities are overconfident); [0, 1] turns it off.")
    labels: Literal["soft", "hard"] = Field(
        "soft", description="soft: p_chosen is the judge's probability; hard: 1.")
    keep_truncated: bool = Field(
        False, description="Keep pairs with a reply cut off at max_new_tokens as training data.")
    drop_ties: bool = Field(True, description="Leave out pairs the judge scores exactly 0.5 "
                            "(for example both replies unjudgeable).")
    drop_inconsistent: bool = Field(
        False, description="Leave out pairs where a pairwise question chose a different reply "
        "when the two swapped places.")
    min_confidence: float = Field(
        0.0, ge=0.0, le=0.5, description="Leave out pairs whose p_chosen − 0.5 is below this.")
    judge_check: str | None = ref(
        "dataset", "Labelled pairs (`prompt`, `better`, `worse`) the judge is checked on "
        "(`constlang judge-check`).", default=None)
    min_judge_accuracy: float | None = Field(
        None, ge=0.0, le=1.0, description="With `judge_check`: the stage refuses to run when "
        "the judge's accuracy on those pairs is below this for any question.")
    batch_size: int = Field(8, ge=1, le=4096, description="Prompts scored together.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed for sampling.")
    respond_template: str = ref("template", "Template of the sampled responses.",
                                default="respond_prompt")
    compare_template: str = ref("template", "Pairwise question template.", default="compare_prompt")
    pointwise_template: str = ref("template", "Pointwise question template.",
                                  default="pointwise_prompt")
    rationale_template: str = ref("template", "Chain-of-thought rationale template.",
                                  default="rationale_prompt")


class RevisionPairsSettings(Strict):
    from_: str = ref("stage", "The critique_revision stage whose answers and revisions are paired.",
                     alias="from")
    use_dropped: bool = Field(
        False, description="Also pair revisions the stage dropped from its SFT data (truncated, "
        "unchanged, meta, worse).")
    weights: Literal["none", "judge"] = Field(
        "none", description="none: p_chosen is 1; judge: the critique_revision stage's judge "
        "scores give p_chosen = σ(log-odds of the revision − log-odds of the first answer), and "
        "a pair the judge scores below 0.5 is dropped as worse.")


class RewardModelSettings(Strict):
    from_: str | list[str] = refs(
        "stage", "The feedback or revision_pairs stage(s) whose preferences are trained on; "
        "several are merged into one dataset.", alias="from")
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


class PPOSettings(Strict):
    # Each implementation detail is a setting; "§n" cites Huang et al. 2024, "The N
    # Implementation Details of RLHF with PPO" (docs/runtime-ppo.md says more).
    policy: str = ref("stage|model", "The policy to optimise (usually the sft stage).")
    reward: str = ref("stage", "The reward_model stage that scores rollouts.")
    prompts: str = ref("dataset", "Prompts for rollouts.")
    steps: int = Field(100, ge=1, le=10_000_000, description="PPO updates.")
    batch_size: int = Field(8, ge=1, le=4096, description="Rollouts per update.")
    mini_batch_size: int = Field(4, ge=1, le=4096, description="Rollouts per optimizer step.")
    ppo_epochs: int = Field(4, ge=1, le=64, description="Optimisation passes per batch.")
    gradient_accumulation_steps: int = Field(
        1, ge=1, le=4096, description="Micro-batches a mini-batch is split into (their gradients "
        "add up to one optimizer step).")
    learning_rate: float = Field(1.4e-5, gt=0.0, le=1.0, description="Learning rate.")
    max_grad_norm: float | None = Field(
        1.0, gt=0.0, le=1e6, description="Clip the gradient norm of each optimizer step to this; "
        "none: no clipping.")
    kl_coef: float = Field(0.05, ge=0.0, le=10.0, description="KL penalty to the reference "
                           "(the starting value when `kl_target` is set).")
    kl_estimator: Literal["k1", "k3"] = Field(
        "k1", description="Per-token KL estimate: k1 = log p − log p_ref (unbiased, can be "
        "negative); k3 = (r − 1) − log r with r = p_ref/p (unbiased, never negative).")
    kl_target: float | None = Field(
        None, gt=0.0, le=1000.0, description="Adaptive KL: the KL per reply (nats) the "
        "coefficient is steered towards; none: `kl_coef` stays fixed.")
    kl_horizon: int = Field(10_000, ge=1, le=10_000_000,
                            description="Adaptive KL: rollouts over which the coefficient adapts.")
    clip_range: float = Field(0.2, gt=0.0, le=1.0, description="Policy ratio clip.")
    clip_range_value: float = Field(0.2, gt=0.0, le=100.0, description="Value clip.")
    vf_coef: float = Field(0.1, ge=0.0, le=100.0, description="Value loss weight.")
    gamma: float = Field(1.0, ge=0.0, le=1.0, description="Discount.")
    lam: float = Field(0.95, ge=0.0, le=1.0, description="GAE lambda.")
    whiten_rewards: bool = Field(
        False, description="Whiten the per-token rewards of each batch (scaled, mean kept).")
    reward_normalization: Literal["none", "initial", "running"] = Field(
        "none", description="Normalise reward-model scores: none; initial: by the mean and "
        "standard deviation of the first batch (the starting policy's replies); running: by "
        "those of every score so far.")
    whiten_advantages: bool = Field(True, description="Whiten the advantages of each batch.")
    missing_eos_penalty: float | None = Field(
        None, le=0.0, ge=-100.0, description="Reward added when a rollout has no EOS."
    )
    value_model: Literal["reward", "policy_head"] = Field(
        "reward", description="The critic: a copy of the reward model (same tokenizer as the "
        "policy), or a value head on the policy sharing its weights.")
    lora: bool = Field(False, description="Train LoRA adapters on the policy; the reference is "
                       "the base with adapters disabled (no second copy).")
    lora_r: LoraRank = 8
    lora_alpha: LoraAlpha = 16
    lora_dropout: LoraDropout = 0.05
    max_new_tokens: int = Field(64, ge=1, le=32768, description="Rollout length.")
    temperature: float = Field(0.7, gt=0.0, le=2.0, description="Rollout temperature.")
    checkpoint_every: int = Field(
        10, ge=0, le=10_000_000, description="Save a resumable checkpoint every this many "
        "updates; 0: never.")
    report_to: Literal["env", "none", "tensorboard", "wandb", "mlflow", "comet_ml", "aim"] = Field(
        "env", description="Where metrics go besides metrics.jsonl: an accelerate tracker, or "
        "env: the CONSTLANG_REPORT_TO variable as for the other training stages.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed.")
    respond_template: str = ref("template", "Template of the rollout prompt.",
                                default="respond_prompt")


class DPOSettings(Strict):
    from_: str | list[str] = refs(
        "stage", "The feedback or revision_pairs stage(s) whose preferences are trained on; "
        "several are merged into one dataset.", alias="from")
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


class GroupSettings(Strict):
    """What GRPO and RLOO share: rewards of a group of completions per prompt, each compared
    with the others of its group. A base class is safe here: its fields come first, as wanted."""

    policy: str = ref("stage|model", "The policy to optimise (usually the sft stage).")
    reward_source: Literal["reward_model", "judge"] = Field(
        "reward_model", description="What scores a completion: reward_model: the score of the "
        "`reward` stage's model; judge: the probability the `judge` model gives the good answer "
        "of `judge_question` (no reward model needed).")
    reward: str | None = ref("stage", "The reward_model stage that scores completions (with "
                             "reward_source = reward_model).", default=None)
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


class GRPOSettings(GroupSettings):
    loss: Literal["grpo", "dr_grpo", "dapo", "bnpo"] = Field(
        "dapo", description="How token losses add up: grpo: mean per completion, then over "
        "completions (favours short good and long bad replies); dr_grpo: sum over a fixed "
        "length; dapo: mean over every token of the update; bnpo: mean over the micro-batch's "
        "tokens.")
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group", description="Divide each advantage (reward − its group's mean) by the standard "
        "deviation of the group's rewards, of the batch's, or not at all.")


class RLOOSettings(GroupSettings):
    normalize_advantages: bool = Field(
        False, description="Scale each batch's advantages (reward − the mean of the other "
        "completions of its group) to mean 0 and standard deviation 1.")

class EvaluateSettings(Strict):
    baseline: str = ref("stage|model", "The model every other is compared with, usually the base "
                        "model declaration (its win rates are 0.5 by definition).")
    models: str | list[str] | None = refs(
        "stage|model", "The models compared with the baseline: policy stages (their saved "
        "models in the run directory) or model declarations; default: every sft, dpo, ppo, "
        "grpo and rloo stage of the plan.", default=None)
    harmful: str = ref("dataset", "Held-out harmful prompts (never trained on): refusal rate and "
                       "the harmlessness win rate.")
    benign: str | None = ref("dataset", "Held-out benign prompts: over-refusal and the "
                             "helpfulness win rate.", default=None)
    judge: str = ref("model", "The model that compares each reply with the baseline's.")
    questions: list[str] = selection("question", "Questions the judge asks, each in both orders "
                                     "(pairwise) or about each reply (pointwise).")
    helpful_questions: list[str] = Field(
        default_factory=list, json_schema_extra={"ref": "question", "selection": True},
        description="Those of `questions` asked about the replies to benign prompts "
        "(helpfulness); the others are asked about the replies to harmful prompts "
        "(harmlessness). Empty: every question on both.")
    judge_check: str | None = ref(
        "dataset", "Labelled pairs (`prompt`, `better`, `worse`) the judge is measured on with "
        "the same questions, so the report says how far to trust its win rates.", default=None)
    reward: str | None = ref("stage", "A reward_model stage whose mean score of each model's "
                             "replies is reported.", default=None)
    max_new_tokens: int = Field(96, ge=1, le=32768, description="Tokens per reply.")
    temperature: float = Field(0.0, ge=0.0, le=2.0,
                               description="Sampling temperature of the replies (0: greedy).")
    samples: int = Field(4, ge=0, le=1000, description="Prompts of each set whose replies the "
                         "report shows side by side.")
    batch_size: int = Field(8, ge=1, le=4096, description="Prompts generated or scored together.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed for sampling (temperature > 0).")
    respond_template: str = ref("template", "Template of the replies.", default="respond_prompt")
    compare_template: str = ref("template", "Pairwise question template.", default="compare_prompt")
    pointwise_template: str = ref("template", "Pointwise question template.",
                                  default="pointwise_prompt")
