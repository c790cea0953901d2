"""Stage kinds as data: one record a kind (settings, steps, references, docs, cost), listed once.

Everything that varies by stage kind derives from `KINDS`: the plan's stage classes, the
checker's reference and selection rules, the prompt programs, the cost estimates of `plan`
and `--dry-run`, and (in `constlang.runtime.stages`) the runner of each kind.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

from constlang import settings as S
from constlang.declarations import Model, Strict, names


class When(StrEnum):
    """When a program step runs. The values are the plan's wording, part of its hash."""

    ALWAYS = "always"
    CRITIQUE_ASKS_FOR_CHANGE = "skip_when_no_critique is false or the critique asks for a change"
    CHAIN_OF_THOUGHT = "chain_of_thought"
    PAIRWISE_QUESTIONS = "pairwise questions"
    POINTWISE_QUESTIONS = "pointwise questions"
    JUDGE_DECLARED = "a judge is declared"
    JUDGE_REWARD = "reward_source is judge"

    def in_program(self, settings: Any, question_kinds: Collection[str]) -> bool:
        """Whether a stage with these settings (asking questions of these kinds) has the step;
        ALWAYS and CRITIQUE_ASKS_FOR_CHANGE steps are in every program (the latter is decided
        per row at run time)."""
        if self is When.CHAIN_OF_THOUGHT:
            return bool(settings.chain_of_thought)
        if self is When.PAIRWISE_QUESTIONS:
            return "pairwise" in question_kinds
        if self is When.POINTWISE_QUESTIONS:
            return "pointwise" in question_kinds
        if self is When.JUDGE_DECLARED:
            return bool(getattr(settings, "judge", None))
        if self is When.JUDGE_REWARD:
            return getattr(settings, "reward_source", None) == "judge"
        return True


@dataclass(frozen=True)
class StepSpec:
    """One step of a kind's prompt program: the template it renders and what it receives."""

    name: str
    template_setting: str  # the stage setting naming the template
    model_setting: str  # the stage setting naming the model (or policy stage) called
    mode: Literal["generate", "score"]
    provides: tuple[str, ...]  # the variables the runtime passes to the template
    repeat_setting: str | None = None  # a stage setting giving the repeat count
    when: When = When.ALWAYS
    # few-shot examples become earlier chat turns: the example fields they need, the last one
    # answering (empty: the step gets no example turns)
    few_shot: tuple[str, ...] = ()
    question_kind: str | None = None  # the kind of question the step asks, if it asks one
    question_setting: str | None = None  # the stage setting naming the question(s) it asks


@dataclass(frozen=True)
class Cost:
    """What a stage needs: prompts read, model calls and generated tokens (upper bounds)."""

    prompts: int | None
    calls: int | None
    tokens: int | None
    note: str


class CostInputs(Protocol):
    """What a cost estimate may look up: dataset sizes and model declarations."""

    def rows(self, dataset: str) -> int | None: ...

    def model(self, name: str) -> Model: ...


CostEstimate = Callable[[Any, CostInputs], Cost]


@dataclass(frozen=True)
class StageKind:
    """Everything the compiler, the checker, `plan` and the runner know about one stage kind."""

    name: str
    settings: type[Strict]
    summary: str  # one line: what a stage of this kind does
    docs: str  # its page under docs/
    cost: CostEstimate
    steps: tuple[StepSpec, ...] = ()
    # setting → the stage kinds it may name (for settings that may name a stage)
    stage_refs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # (selection setting, declaration kind) that must select at least one declaration
    samples: tuple[str, str] | None = None
    # when `model` is left out: (the setting naming a stage, that stage's model setting)
    default_model: tuple[str, str] | None = None
    # the setting naming the model (or stage) whose weights this stage starts from
    base_model: str | None = None
    # setting → (the setting it cannot work without, why): checked as E113 when the first is
    # set; "setting=value" checks when the setting has that value (written or by default)
    needs: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # planned kinds compile, lint and render; their runner is not built yet
    runtime: Literal["available", "planned"] = "available"

    @property
    def class_name(self) -> str:
        """The name of the plan's stage class, e.g. CritiqueRevisionStage."""
        special = {"sft": "SFT", "ppo": "PPO", "dpo": "DPO", "grpo": "GRPO", "rloo": "RLOO"}
        return "".join(special.get(w, w.title()) for w in self.name.split("_")) + "Stage"


# ---------------------------------------------------------------- cost estimates

def _critique_revision_cost(s: S.CritiqueRevisionSettings, inputs: CostInputs) -> Cost:
    n = inputs.rows(s.prompts)
    helpful = inputs.rows(s.helpful_prompts) if s.helpful_prompts else 0
    calls = None if n is None or helpful is None else n * (1 + 2 * s.revisions) + helpful
    tokens = None if calls is None else calls * inputs.model(s.model).max_new_tokens
    note = f"1 answer + {s.revisions}×(critique+revision) per prompt"
    return Cost(n, calls, tokens, note + (f", + {helpful} helpful answers" if helpful else ""))


def _feedback_cost(s: S.FeedbackSettings, inputs: CostInputs) -> Cost:
    n = inputs.rows(s.prompts)
    orders = 2 if s.swap_positions else 1
    generated = 2 + (orders if s.chain_of_thought else 0)
    calls = None if n is None else n * (generated + orders)
    judge = inputs.model(s.judge)
    tokens = None if n is None else n * 2 * judge.max_new_tokens + (
        n * orders * judge.max_new_tokens if s.chain_of_thought else 0)
    return Cost(n, calls, tokens, f"2 samples + {orders} scoring pass(es) per prompt")


def _ppo_cost(s: S.PPOSettings, inputs: CostInputs) -> Cost:
    rollouts = s.steps * s.batch_size
    return Cost(None, rollouts, rollouts * s.max_new_tokens,
                f"{s.steps} updates × {s.batch_size} rollouts")


def _group_cost(s: S.GroupSettings, inputs: CostInputs) -> Cost:
    # each sampled batch (batch_size × accumulation completions) serves `iterations` updates
    completions = -(-s.steps * s.batch_size * s.gradient_accumulation_steps // s.iterations)
    judged = f", each scored by `{s.judge}`" if s.reward_source == "judge" else ""
    calls = completions * (2 if judged else 1)
    return Cost(None, calls, completions * s.max_new_tokens,
                f"{s.steps} updates, {s.num_generations} completions per prompt{judged}")


def _evaluate_cost(s: S.EvaluateSettings, inputs: CostInputs) -> Cost:
    sets = [inputs.rows(s.harmful)] + ([inputs.rows(s.benign)] if s.benign else [])
    n = None if any(x is None for x in sets) else sum(x or 0 for x in sets)
    models = None if s.models is None else 1 + len(names(s.models))
    calls = None if n is None or models is None else n * models
    who = "each model" if models is None else f"{models} models"
    return Cost(n, calls, None if calls is None else calls * s.max_new_tokens,
                f"{who} answer every prompt; the judge scores each reply against the "
                "baseline's in both orders")


def _no_model_cost(s: Any, inputs: CostInputs) -> Cost:
    return Cost(None, 0, 0, "no model calls: pairs written from the upstream rows")


def _training_cost(s: Any, inputs: CostInputs) -> Cost:
    return Cost(None, 0, 0, f"training, {s.epochs} epoch(s)")


# ---------------------------------------------------------------- the registry

_RESPOND = ("prompt", "examples")
# the kinds whose stages save a policy (a causal LM) that evaluate may load by stage name
POLICY_KINDS: tuple[str, ...] = ("sft", "dpo", "ppo", "grpo", "rloo")
_PAIR = ("prompt", "response_a", "response_b", "question", "examples")  # a judged pair
_ONE = ("prompt", "response", "question", "examples")  # a judged reply


def _compare(variables: tuple[str, ...] = _PAIR) -> StepSpec:
    """A judge's pairwise question, scored (feedback, evaluate)."""
    return StepSpec("compare", "compare_template", "judge", "score", variables,
                    when=When.PAIRWISE_QUESTIONS, question_kind="pairwise",
                    question_setting="questions")


# a judge's pointwise question about one reply, scored (feedback, evaluate)
_POINTWISE = StepSpec("pointwise", "pointwise_template", "judge", "score", _ONE,
                      when=When.POINTWISE_QUESTIONS, question_kind="pointwise",
                      question_setting="questions")

KINDS: tuple[StageKind, ...] = (
    StageKind(
        "critique_revision", S.CritiqueRevisionSettings,
        "The model answers red-team prompts, then critiques and revises its answer.",
        "runtime-critique-revision.md", _critique_revision_cost,
        steps=(
            StepSpec("respond", "respond_template", "model", "generate", _RESPOND),
            StepSpec("critique", "critique_template", "model", "generate",
                     ("prompt", "response", "principle", "examples", "round"), "revisions",
                     few_shot=("critique",)),
            StepSpec("revise", "revision_template", "model", "generate",
                     ("prompt", "response", "critique", "principle", "examples", "round"),
                     "revisions", When.CRITIQUE_ASKS_FOR_CHANGE,
                     few_shot=("critique", "revision")),
            StepSpec("judge", "pointwise_template", "judge", "score", _ONE,
                     when=When.JUDGE_DECLARED, question_kind="pointwise",
                     question_setting="judge_question"),
        ),
        samples=("principles", "principle"), base_model="model",
        needs={"judge": ("judge_question", "the pointwise question the judge answers about "
                                           "each reply, e.g. judge_question = is_safe")}),
    StageKind(
        "sft", S.SFTSettings,
        "Fine-tunes the model on the revisions of a critique_revision stage (TRL).",
        "runtime-sft.md", _training_cost,
        stage_refs={"from": ("critique_revision",)}, default_model=("from", "model"),
        base_model="model"),
    StageKind(
        "feedback", S.FeedbackSettings,
        "A policy samples reply pairs; a judge labels which is better (AI preference labels).",
        "runtime-feedback.md", _feedback_cost,
        steps=(
            StepSpec("respond", "respond_template", "policy", "generate", _RESPOND),
            StepSpec("rationale", "rationale_template", "judge", "generate", _PAIR,
                     when=When.CHAIN_OF_THOUGHT, question_kind="pairwise",
                     question_setting="questions"),
            _compare(_PAIR + ("rationale",)),
            _POINTWISE,
        ),
        stage_refs={"policy": POLICY_KINDS},
        samples=("questions", "question"),
        needs={"min_judge_accuracy": ("judge_check", "the labelled pairs (`prompt`, `better`, "
                                                     "`worse`) the judge is measured on")}),
    StageKind(
        "revision_pairs", S.RevisionPairsSettings,
        "Preference pairs without a judge: each prompt's final revision over its first answer.",
        "runtime-revision-pairs.md", _no_model_cost,
        stage_refs={"from": ("critique_revision",)}, base_model="from"),
    StageKind(
        "reward_model", S.RewardModelSettings,
        "Trains a reward model on the preference labels of a feedback stage.",
        "runtime-reward-model.md", _training_cost,
        stage_refs={"from": ("feedback", "revision_pairs")}, default_model=("from", "judge"),
        base_model="model"),
    StageKind(
        "ppo", S.PPOSettings,
        "Optimises the policy against the reward model with PPO and a KL penalty.",
        "runtime-ppo.md", _ppo_cost,
        steps=(StepSpec("respond", "respond_template", "policy", "generate", _RESPOND),),
        stage_refs={"policy": ("sft", "dpo"), "reward": ("reward_model",)},
        base_model="policy"),
    StageKind(
        "dpo", S.DPOSettings,
        "Optimises the policy straight from the preference labels (DPO).",
        "runtime-dpo.md", _training_cost,
        stage_refs={"from": ("feedback", "revision_pairs"), "policy": ("sft",)},
        base_model="policy"),
    *(StageKind(
        name, settings, f"Optimises the policy with {label}: groups of completions per prompt, "
        "each scored by the reward model (or the judge) against its group (TRL).",
        f"runtime-{name}.md", _group_cost,
        steps=(StepSpec("respond", "respond_template", "policy", "generate", _RESPOND),
               StepSpec("judge", "pointwise_template", "judge", "score", _ONE,
                        when=When.JUDGE_REWARD, question_kind="pointwise",
                        question_setting="judge_question")),
        stage_refs={"policy": POLICY_KINDS, "reward": ("reward_model",)},
        base_model="policy",
        needs={"reward_source=reward_model": ("reward", "the reward_model stage that scores "
                                              "completions, e.g. reward = reward_model"),
               "reward_source=judge": ("judge", "the model that scores completions"),
               "judge": ("judge_question", "the pointwise question the judge answers about "
                                           "each completion, e.g. judge_question = is_safe")})
      for name, settings, label in (("grpo", S.GRPOSettings, "GRPO"),
                                    ("rloo", S.RLOOSettings, "RLOO"))),
)

# evaluate is appended on its own so that records added to the tuple above merge cleanly
KINDS = (*KINDS, StageKind(
    "evaluate", S.EvaluateSettings,
    "Compares models on held-out prompts: refusals, judged win rates, reward; writes a report.",
    "runtime-evaluate.md", _evaluate_cost,
    steps=(
        StepSpec("respond", "respond_template", "baseline", "generate", _RESPOND),
        _compare(),
        _POINTWISE,
    ),
    stage_refs={"baseline": POLICY_KINDS, "models": POLICY_KINDS, "reward": ("reward_model",)},
))

BY_NAME: dict[str, StageKind] = {k.name: k for k in KINDS}
SETTINGS_BY_KIND: dict[str, type[Strict]] = {k.name: k.settings for k in KINDS}


def kind(name: str) -> StageKind:
    """The record of a stage kind; KeyError for an unknown name."""
    return BY_NAME[name]


def register(record: StageKind) -> None:
    """Add a stage kind (a plugin, a test fixture): the one record a new kind needs on the
    language side. Must run before `constlang.plan` is imported, which builds the plan's stage
    classes from the registry."""
    global KINDS
    import sys

    if "constlang.plan" in sys.modules:
        raise RuntimeError("register stage kinds before constlang.plan is imported")
    if record.name in BY_NAME:
        raise ValueError(f"stage kind `{record.name}` is already registered")
    KINDS = (*KINDS, record)
    BY_NAME[record.name] = record
    SETTINGS_BY_KIND[record.name] = record.settings
