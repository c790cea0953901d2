"""Stage kinds, the record: what the compiler, the checker, `plan` and the runner know of a kind."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

from constlang.declarations import Model, Strict


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


# why a training stage's model must be local (StageKind.local_models)
TRAINS_WEIGHTS = "the stage trains local weights"


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
    # model settings that must name a model with weights, not a served one: setting → why
    local_models: Mapping[str, str] = field(default_factory=dict)
    # setting → (the setting it cannot work without, why): checked as E113 when the first is
    # set; "setting=value" checks when the setting has that value (written or by default)
    needs: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # planned kinds compile, lint and render; their runner is not built yet
    runtime: Literal["available", "planned"] = "available"

    @property
    def class_name(self) -> str:
        """The name of the plan's stage class, after the settings class (SFTSettings →
        SFTStage); a settings class named otherwise gives the kind's name in title case."""
        stem = self.settings.__name__.removesuffix("Settings")
        if stem == self.settings.__name__:
            stem = "".join(word.title() for word in self.name.split("_"))
        return stem + "Stage"
