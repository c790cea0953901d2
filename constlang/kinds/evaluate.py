"""Stage kind evaluate: its settings, its cost estimate and its record."""

from __future__ import annotations

from pydantic import Field

from constlang.declarations import MAX_SEED, Strict, names, ref, refs, selection
from constlang.kinds import _steps
from constlang.kinds.record import Cost, CostInputs, StageKind
from constlang.words import counted


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
    checks: list[str] = selection(
        "check", "Checks run on every reply, each one's pass rate per model in the report; "
        "a check applies by the prompt's tags, and the rows of `harmful` also carry the tag "
        "`harmful`, those of `benign` the tag `benign`.")
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


def cost(s: EvaluateSettings, inputs: CostInputs) -> Cost:
    """Every model answers every prompt; the judge scores each reply against the baseline's."""
    sets = [inputs.rows(s.harmful)] + ([inputs.rows(s.benign)] if s.benign else [])
    n = None if any(x is None for x in sets) else sum(x or 0 for x in sets)
    models = None if s.models is None else 1 + len(names(s.models))
    calls = None if n is None or models is None else n * models
    who = "each model" if models is None else counted(models, "model")
    return Cost(n, calls, None if calls is None else calls * s.max_new_tokens,
                f"{who} answer every prompt; the judge scores each reply against the "
                "baseline's in both orders")


KIND = StageKind(
    "evaluate", EvaluateSettings,
    "Compares models on held-out prompts: refusals, judged win rates, reward; writes a report.",
    "runtime-evaluate.md", cost,
    steps=(_steps.respond("baseline"), _steps.compare(), _steps.POINTWISE),
    stage_refs={"baseline": _steps.POLICY_KINDS, "models": _steps.POLICY_KINDS,
                "reward": ("reward_model",)},
)
