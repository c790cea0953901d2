"""Stage kind feedback: its settings, its cost estimate and its record."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from constlang.declarations import MAX_SEED, NameList, Strict, ref, refs, selection
from constlang.kinds import _steps
from constlang.kinds.record import Cost, CostInputs, StageKind, StepSpec, When
from constlang.words import counted


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
    checks: NameList = refs(
        "check", "Checks both replies of every pair are held to, besides the checks of the "
        "questions asked for that pair; each applies to the prompts its tags select.",
        default_factory=list)
    check_conflicts: Literal["veto", "drop", "ignore"] = Field(
        "veto", description="When exactly one reply passes every check that applies: veto: "
        "it is chosen with a hard label (p_chosen 1), overriding the judge; drop: a pair the "
        "judge decided the other way is left out; ignore: the judge's label stands. When both "
        "or neither pass, the judge decides.")
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


def cost(s: FeedbackSettings, inputs: CostInputs) -> Cost:
    """Two samples per prompt, then one scoring pass per order (and a rationale per order)."""
    n = inputs.rows(s.prompts)
    orders = 2 if s.swap_positions else 1
    generated = 2 + (orders if s.chain_of_thought else 0)
    calls = None if n is None else n * (generated + orders)
    judge = inputs.model(s.judge)
    tokens = None if n is None else n * 2 * judge.max_new_tokens + (
        n * orders * judge.max_new_tokens if s.chain_of_thought else 0)
    passes = counted(orders, "scoring pass", "scoring passes")
    return Cost(n, calls, tokens, f"2 samples + {passes} per prompt")


KIND = StageKind(
    "feedback", FeedbackSettings,
    "A policy samples reply pairs; a judge labels which is better (AI preference labels).",
    "runtime-feedback.md", cost,
    steps=(
        _steps.respond("policy"),
        StepSpec("rationale", "rationale_template", "judge", "generate", _steps.PAIR,
                 when=When.CHAIN_OF_THOUGHT, question_kind="pairwise",
                 question_setting="questions"),
        _steps.compare(_steps.PAIR + ("rationale",)),
        _steps.POINTWISE,
    ),
    stage_refs={"policy": _steps.POLICY_KINDS},
    samples=("questions", "question"),
    needs={"min_judge_accuracy": ("judge_check", "the labelled pairs (`prompt`, `better`, "
                                                 "`worse`) the judge is measured on")})
