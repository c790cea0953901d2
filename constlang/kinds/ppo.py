"""Stage kind ppo: its settings, its cost estimate and its record."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from constlang.declarations import MAX_SEED, Strict, ref
from constlang.kinds import _steps
from constlang.kinds._training import (
    LoraAlpha,
    LoraDropout,
    LoraRank,
    RewardChecks,
    RewardWeight,
)
from constlang.kinds.record import TRAINS_WEIGHTS, Cost, CostInputs, StageKind
from constlang.words import counted


class PPOSettings(Strict):
    # A setting's description ends with its source in parentheses. "Huang et al. 2024, policy
    # training 9" is item 9 of the "Policy Training Implementation Details" list (likewise the
    # "general" and "reward model" lists) in S. Huang, T. Liu and L. von Werra, "The N
    # Implementation Details of RLHF with PPO", a post of the ICLR 2024 Blogposts Track; "cf."
    # marks a setting that adapts its detail rather than copies it. The other sources are
    # listed in docs/runtime-ppo.md; a setting with no source names none.
    policy: str = ref("stage|model", "The policy to optimise (usually the sft stage).")
    reward: str | None = ref("stage", "The reward_model stage that scores rollouts (optional "
                             "with `checks`).", default=None)
    checks: RewardChecks = []
    reward_weight: RewardWeight = 1.0
    prompts: str = ref("dataset", "Prompts for rollouts.")
    steps: int = Field(100, ge=1, le=10_000_000, description="PPO updates.")
    batch_size: int = Field(8, ge=1, le=4096, description="Rollouts per update (Huang et al. "
                            "2024, policy training 7).")
    mini_batch_size: int = Field(4, ge=1, le=4096, description="Rollouts per optimizer step "
                                 "(Huang et al. 2024, policy training 7).")
    ppo_epochs: int = Field(4, ge=1, le=64, description="Optimisation passes per batch, each in "
                            "a new shuffled order (Huang et al. 2024, policy training 7).")
    gradient_accumulation_steps: int = Field(
        1, ge=1, le=4096, description="Micro-batches a mini-batch is split into (their gradients "
        "add up to one optimizer step; Huang et al. 2024, policy training 7).")
    learning_rate: float = Field(1.4e-5, gt=0.0, le=1.0, description="Learning rate.")
    max_grad_norm: float | None = Field(
        1.0, gt=0.0, le=1e6, description="Clip the global gradient norm of each optimizer step to "
        "this; none: no clipping (OpenAI Baselines' ppo2 clips too).")
    kl_coef: float = Field(0.05, ge=0.0, le=10.0, description="Weight of the per-token KL "
                           "penalty to the reference (the starting value when `kl_target` is "
                           "set; Huang et al. 2024, policy training 8).")
    kl_estimator: Literal["k1", "k3"] = Field(
        "k1", description="Per-token KL estimate: k1 = log p − log p_ref (unbiased, can be "
        "negative); k3 = (r − 1) − log r with r = p_ref/p (unbiased, never negative; Schulman "
        "2020).")
    kl_target: float | None = Field(
        None, gt=0.0, le=1000.0, description="Adaptive KL: the KL per reply (nats) the "
        "coefficient is steered towards; none: `kl_coef` stays fixed (Huang et al. 2024, policy "
        "training 11).")
    kl_horizon: int = Field(10_000, ge=1, le=10_000_000, description="Adaptive KL: rollouts "
                            "over which the coefficient adapts (Huang et al. 2024, policy "
                            "training 11).")
    clip_range: float = Field(0.2, gt=0.0, le=1.0, description="Policy ratio clip (Schulman et "
                              "al. 2017, §3).")
    clip_range_value: float = Field(0.2, gt=0.0, le=100.0, description="Value clip (Huang et "
                                    "al. 2024, policy training 10).")
    vf_coef: float = Field(0.1, ge=0.0, le=100.0, description="Value loss weight (Schulman et "
                           "al. 2017, §5).")
    gamma: float = Field(1.0, ge=0.0, le=1.0, description="Discount (Huang et al. 2024, policy "
                         "training 6).")
    lam: float = Field(0.95, ge=0.0, le=1.0, description="GAE lambda (Schulman et al. 2016).")
    whiten_rewards: bool = Field(
        False, description="Whiten the per-token rewards of each batch (scaled, mean kept; cf. "
        "Huang et al. 2024, policy training 9, which whitens per minibatch).")
    reward_normalization: Literal["none", "initial", "running"] = Field(
        "none", description="Normalise the rewards (the reward model's score and the check "
        "rewards, summed): none; initial: by the mean and standard deviation of the first batch "
        "(the starting policy's replies; cf. Huang et al. 2024, reward model 3); running: by "
        "those of every reward so far.")
    whiten_advantages: bool = Field(True, description="Whiten the advantages of each batch (cf. "
                                    "Huang et al. 2024, policy training 9, which whitens per "
                                    "minibatch).")
    missing_eos_penalty: float | None = Field(
        None, le=0.0, ge=-100.0, description="Reward added when a rollout has no EOS (cf. Huang "
        "et al. 2024, policy training 5, where a reply with no end gets a fixed score instead).")
    value_model: Literal["reward", "policy_head"] = Field(
        "reward", description="The critic: a copy of the reward model (same tokenizer as the "
        "policy), or a value head on the policy sharing its weights, initialised to zero (Huang "
        "et al. 2024, policy training 2).")
    lora: bool = Field(False, description="Train LoRA adapters on the policy; the reference is "
                       "the base with adapters disabled (no second copy).")
    lora_r: LoraRank = 8
    lora_alpha: LoraAlpha = 16
    lora_dropout: LoraDropout = 0.05
    max_new_tokens: int = Field(64, ge=1, le=32768, description="Rollout length.")
    temperature: float = Field(0.7, gt=0.0, le=2.0, description="Rollout temperature; the "
                               "log-probabilities divide the logits by it too (Huang et al. "
                               "2024, policy training 1).")
    checkpoint_every: int = Field(
        10, ge=0, le=10_000_000, description="Save a resumable checkpoint every this many "
        "updates; 0: never.")
    report_to: Literal["env", "none", "tensorboard", "wandb", "mlflow", "comet_ml", "aim"] = Field(
        "env", description="Where metrics go besides metrics.jsonl: an accelerate tracker, or "
        "env: the CONSTLANG_REPORT_TO variable as for the other training stages.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed.")
    respond_template: str = ref("template", "Template of the rollout prompt.",
                                default="respond_prompt")


def cost(s: PPOSettings, inputs: CostInputs) -> Cost:
    """One rollout per prompt of each update's batch."""
    rollouts = s.steps * s.batch_size
    return Cost(None, rollouts, rollouts * s.max_new_tokens,
                f"{counted(s.steps, 'update')} × {counted(s.batch_size, 'rollout')}")


KIND = StageKind(
    "ppo", PPOSettings,
    "Optimises the policy against the reward model and the checks with PPO and a KL penalty.",
    "runtime-ppo.md", cost,
    steps=(_steps.respond("policy"),),
    stage_refs={"policy": ("sft", "dpo"), "reward": ("reward_model",)},
    base_model="policy", local_models={"policy": TRAINS_WEIGHTS},
    needs={"": ("reward|checks", "what rewards a rollout: a reward_model stage, checks, or "
                "both, e.g. reward = reward_model"),
           "value_model=reward": ("reward", "the critic starts as a copy of the reward model; "
                                  "without one, set value_model = policy_head")})
