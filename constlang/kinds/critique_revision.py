"""Stage kind critique_revision: its settings, its cost estimate and its record."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from constlang.declarations import MAX_SEED, NameList, Strict, ref, refs, selection
from constlang.kinds import _steps
from constlang.kinds.record import Cost, CostInputs, StageKind, StepSpec, When
from constlang.words import counted


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
    checks: NameList = refs(
        "check", "Checks every revision (and helpful answer) must pass, besides the checks of "
        "the principle it was revised under; each applies to the prompts its tags select.",
        default_factory=list)
    drop_failing_checks: bool = Field(
        True, description="Leave out revisions that fail a check of their round's principle "
        "or of `checks` (`false`: the checks only count and record their verdicts).")
    batch_size: int = Field(8, ge=1, le=4096, description="Prompts generated together.")
    seed: int = Field(0, ge=0, le=MAX_SEED,
                      description="Seed for principle sampling and generation.")
    respond_template: str = ref("template", "Template of the first answer.",
                                default="respond_prompt")
    critique_template: str = ref("template", "Template of a critique.", default="critique_prompt")
    revision_template: str = ref("template", "Template of a revision.", default="revision_prompt")


def cost(s: CritiqueRevisionSettings, inputs: CostInputs) -> Cost:
    """One answer and `revisions` × (critique + revision) per prompt, one answer a helpful one."""
    n = inputs.rows(s.prompts)
    helpful = inputs.rows(s.helpful_prompts) if s.helpful_prompts else 0
    calls = None if n is None or helpful is None else n * (1 + 2 * s.revisions) + helpful
    tokens = None if calls is None else calls * inputs.model(s.model).max_new_tokens
    note = f"1 answer + {s.revisions}×(critique+revision) per prompt"
    extra = f", + {counted(helpful, 'helpful answer')}" if helpful else ""
    return Cost(n, calls, tokens, note + extra)


KIND = StageKind(
    "critique_revision", CritiqueRevisionSettings,
    "The model answers red-team prompts, then critiques and revises its answer.",
    "runtime-critique-revision.md", cost,
    steps=(
        _steps.respond("model"),
        StepSpec("critique", "critique_template", "model", "generate",
                 ("prompt", "response", "principle", "examples", "round"), "revisions",
                 few_shot=("critique",)),
        StepSpec("revise", "revision_template", "model", "generate",
                 ("prompt", "response", "critique", "principle", "examples", "round"),
                 "revisions", When.CRITIQUE_ASKS_FOR_CHANGE,
                 few_shot=("critique", "revision")),
        _steps.judge(When.JUDGE_DECLARED),
    ),
    samples=("principles", "principle"), base_model="model",
    needs={"judge": ("judge_question", "the pointwise question the judge answers about "
                                       "each reply, e.g. judge_question = is_safe")})
