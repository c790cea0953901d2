"""The typed training plan: the contract between the compiler and the runtime (pydantic v2)."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

FORMAT_VERSION = 1
MAX_SEED = 2**31 - 1  # seeds must fit every RNG the runtime seeds


def ref(kind: str, help: str, **kw: Any) -> Any:
    """A field whose value names another declaration of ``kind`` (``a|b`` for either)."""
    return Field(json_schema_extra={"ref": kind}, description=help, **kw)


def selection(kind: str, help: str) -> Any:
    """A field that selects declarations: ``all`` or a list of names; the plan holds the list."""
    return Field(
        default_factory=lambda: ["all"], json_schema_extra={"ref": kind, "selection": True},
        description=help,
    )


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SourceLocation(Strict):
    file: str = Field(description="Path of the declaring file, relative to the project root.")
    line: int
    column: int


# ---------------------------------------------------------------- declarations

class ConstitutionInfo(Strict):
    name: str
    version: str = Field("0.0.0", description="Version of this constitution.")
    description: str = Field("", description="What this constitution is for.")
    authors: list[str] = Field(default_factory=list, description="Who maintains it.")
    license: str = Field("", description="SPDX licence identifier.")


class Principle(Strict):
    id: str
    critique: str = Field(description="The critique request: what to look for in a reply.")
    revision: str = Field(description="The revision request: how to rewrite the reply.")
    tags: list[str] = Field(default_factory=list, description="Free-form labels.")
    weight: float = Field(1.0, ge=0.0, le=1000.0, description="Relative sampling weight.")
    location: SourceLocation | None = None


class Question(Strict):
    id: str
    text: str = Field(description="The question the judge answers.")
    kind: Literal["pairwise", "pointwise"] = Field(
        "pairwise", description="pairwise: choose between two replies; pointwise: judge one."
    )
    options: list[str] = Field(
        default_factory=list,
        description="Answer options; default (A)/(B) for pairwise, Yes/No for pointwise.",
    )
    good_answer: str | None = Field(
        None, description="Pointwise only: the option a good reply earns (e.g. No to "
        "'is it harmful?')."
    )
    weight: float = Field(1.0, ge=0.0, le=1000.0, description="Relative sampling weight.")
    tags: list[str] = Field(default_factory=list, description="Free-form labels.")
    location: SourceLocation | None = None


class Example(Strict):
    id: str
    prompt: str = Field(description="The user's request.")
    response: str = Field(description="The assistant's first reply.")
    critique_request: str = Field("", description="The critique request the example answers.")
    critique: str = Field("", description="A critique of that reply.")
    revision_request: str = Field("", description="The revision request the example answers.")
    revision: str = Field("", description="The revised reply.")
    location: SourceLocation | None = None


class Model(Strict):
    id: str
    source: str = Field(
        description="Hugging Face id, local directory, path to a .gguf file, or "
        "embedded:smollm2-135m-instruct."
    )
    gguf_file: str | None = Field(None, description="GGUF file name inside a directory source.")
    max_new_tokens: int = Field(128, ge=1, le=32768, description="Tokens generated per call.")
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="Sampling temperature; 0 = greedy.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    repetition_penalty: float = Field(
        1.0, ge=1.0, le=2.0, description="Penalty on repeating tokens; 1 = none."
    )
    context_length: int | None = Field(
        None, ge=16, le=10_000_000, description="Context window in tokens (for length checks)."
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Weights dtype."
    )
    trust_remote_code: bool = Field(False, description="Run code from the model repository.")
    location: SourceLocation | None = None


class Dataset(Strict):
    id: str
    path: str = Field(description="JSONL file, relative to the declaring .const file.")
    field: str = Field("prompt", description="The JSON key that holds the prompt text.")
    limit: int | None = Field(None, ge=1, le=100_000_000, description="Use at most this many rows.")
    location: SourceLocation | None = None


# ---------------------------------------------------------------- stage settings

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
    epochs: float = Field(1.0, gt=0.0, le=100.0, description="Passes over the data.")
    learning_rate: float = Field(2e-5, gt=0.0, le=1.0, description="Peak learning rate.")
    batch_size: int = Field(8, ge=1, le=4096, description="Per-device batch size.")
    gradient_accumulation_steps: int = Field(1, ge=1, le=4096, description="Steps per update.")
    max_length: int = Field(512, ge=16, le=1_000_000, description="Tokens per training row.")
    lora: bool = Field(False, description="Train LoRA adapters (peft) instead of all weights.")
    lora_r: int = Field(8, ge=1, le=1024, description="LoRA rank.")
    lora_alpha: int = Field(16, ge=1, le=4096, description="LoRA scaling.")
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0, description="LoRA dropout.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Training seed.")


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
    chain_of_thought: bool = Field(False, description="Generate a rationale before scoring.")
    clamp: list[float] | None = Field(
        None, min_length=2, max_length=2, description="[low, high] bounds for the probabilities."
    )
    labels: Literal["soft", "hard"] = Field("soft", description="Probabilities or 0/1 labels.")
    batch_size: int = Field(8, ge=1, le=4096, description="Prompts scored together.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed for sampling.")
    respond_template: str = ref("template", "Template of the sampled responses.",
                                default="respond_prompt")
    compare_template: str = ref("template", "Pairwise question template.", default="compare_prompt")
    pointwise_template: str = ref("template", "Pointwise question template.",
                                  default="pointwise_prompt")
    rationale_template: str = ref("template", "Chain-of-thought rationale template.",
                                  default="rationale_prompt")


class RewardModelSettings(Strict):
    from_: str = ref("stage", "The feedback stage whose preferences are trained on.", alias="from")
    model: str | None = ref("model", "Base model of the reward model; default: the judge.",
                            default=None)
    soft_labels: bool = Field(True, description="Train on soft targets instead of hard pairs.")
    epochs: float = Field(1.0, gt=0.0, le=100.0, description="Passes over the data.")
    learning_rate: float = Field(1e-5, gt=0.0, le=1.0, description="Peak learning rate.")
    batch_size: int = Field(8, ge=1, le=4096, description="Per-device batch size.")
    max_length: int = Field(512, ge=16, le=1_000_000, description="Tokens per pair member.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Training seed.")


class PPOSettings(Strict):
    policy: str = ref("stage|model", "The policy to optimise (usually the sft stage).")
    reward: str = ref("stage", "The reward_model stage that scores rollouts.")
    prompts: str = ref("dataset", "Prompts for rollouts.")
    steps: int = Field(100, ge=1, le=10_000_000, description="PPO updates.")
    batch_size: int = Field(8, ge=1, le=4096, description="Rollouts per update.")
    mini_batch_size: int = Field(4, ge=1, le=4096, description="Rollouts per gradient step.")
    ppo_epochs: int = Field(4, ge=1, le=64, description="Optimisation passes per batch.")
    learning_rate: float = Field(1.4e-5, gt=0.0, le=1.0, description="Learning rate.")
    kl_coef: float = Field(0.05, ge=0.0, le=10.0, description="KL penalty to the reference.")
    clip_range: float = Field(0.2, gt=0.0, le=1.0, description="Policy ratio clip.")
    clip_range_value: float = Field(0.2, gt=0.0, le=100.0, description="Value clip.")
    vf_coef: float = Field(0.1, ge=0.0, le=100.0, description="Value loss weight.")
    gamma: float = Field(1.0, ge=0.0, le=1.0, description="Discount.")
    lam: float = Field(0.95, ge=0.0, le=1.0, description="GAE lambda.")
    whiten_rewards: bool = Field(False, description="Whiten rewards per batch.")
    missing_eos_penalty: float | None = Field(
        None, le=0.0, ge=-100.0, description="Reward added when a rollout has no EOS."
    )
    max_new_tokens: int = Field(64, ge=1, le=32768, description="Rollout length.")
    temperature: float = Field(0.7, gt=0.0, le=2.0, description="Rollout temperature.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed.")
    respond_template: str = ref("template", "Template of the rollout prompt.",
                                default="respond_prompt")


class DPOSettings(Strict):
    from_: str = ref("stage", "The feedback stage whose preferences are trained on.", alias="from")
    policy: str = ref("stage|model", "The policy to optimise (usually the sft stage).")
    beta: float = Field(0.1, gt=0.0, le=10.0, description="Strength of the implicit KL.")
    epochs: float = Field(1.0, gt=0.0, le=100.0, description="Passes over the data.")
    learning_rate: float = Field(5e-7, gt=0.0, le=1.0, description="Learning rate.")
    batch_size: int = Field(8, ge=1, le=4096, description="Per-device batch size.")
    max_length: int = Field(512, ge=16, le=1_000_000, description="Tokens per pair member.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Training seed.")


SETTINGS_BY_KIND: dict[str, type[Strict]] = {
    "critique_revision": CritiqueRevisionSettings,
    "sft": SFTSettings,
    "feedback": FeedbackSettings,
    "reward_model": RewardModelSettings,
    "ppo": PPOSettings,
    "dpo": DPOSettings,
}

# The kind of stage that a stage-typed reference of each setting must point to.
STAGE_REF_KINDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("sft", "from"): ("critique_revision",),
    ("feedback", "policy"): ("sft", "dpo", "ppo"),
    ("reward_model", "from"): ("feedback",),
    ("ppo", "policy"): ("sft", "dpo"),
    ("ppo", "reward"): ("reward_model",),
    ("dpo", "from"): ("feedback",),
    ("dpo", "policy"): ("sft",),
}


class _StageBase(Strict):
    name: str
    kind: str
    depends_on: list[str] = Field(default_factory=list, description="Stages that run before.")
    location: SourceLocation | None = None


class CritiqueRevisionStage(_StageBase):
    kind: Literal["critique_revision"]
    settings: CritiqueRevisionSettings


class SFTStage(_StageBase):
    kind: Literal["sft"]
    settings: SFTSettings


class FeedbackStage(_StageBase):
    kind: Literal["feedback"]
    settings: FeedbackSettings


class RewardModelStage(_StageBase):
    kind: Literal["reward_model"]
    settings: RewardModelSettings


class PPOStage(_StageBase):
    kind: Literal["ppo"]
    settings: PPOSettings


class DPOStage(_StageBase):
    kind: Literal["dpo"]
    settings: DPOSettings


Stage = Annotated[
    Union[CritiqueRevisionStage, SFTStage, FeedbackStage, RewardModelStage, PPOStage, DPOStage],
    Field(discriminator="kind"),
]

STAGE_CLASSES: dict[str, type[Any]] = {
    "critique_revision": CritiqueRevisionStage, "sft": SFTStage, "feedback": FeedbackStage,
    "reward_model": RewardModelStage, "ppo": PPOStage, "dpo": DPOStage,
}


# ---------------------------------------------------------------- prompt programs

class ProgramStep(Strict):
    name: str = Field(description="What the step does: respond, critique, revise, compare, ...")
    template: str = Field(description="Name of the template rendered for the step.")
    source: str = Field(description="The template's Jinja source.")
    variables: list[str] = Field(description="The template's declared parameters.")
    model: str = Field(description="The model the step calls.")
    mode: Literal["generate", "score"] = Field(description="Generate text or score options.")
    repeat: int = Field(1, ge=1, description="How many times the step runs per prompt.")
    when: str = Field("always", description="Condition under which the step runs.")


class Program(Strict):
    stage: str
    steps: list[ProgramStep]


class SourceFile(Strict):
    path: str = Field(description="Relative to the project root; std/ files as std/NAME.")
    sha256: str


class Plan(Strict):
    format_version: int = FORMAT_VERSION
    constitution: ConstitutionInfo
    sources: list[SourceFile] = Field(default_factory=list)
    principles: list[Principle]
    questions: list[Question]
    examples: list[Example]
    models: list[Model]
    datasets: list[Dataset]
    stages: list[Stage] = Field(description="In execution order.")
    programs: list[Program]
    hash: str = Field("", description="sha256 of the canonical JSON of everything else except "
                      "provenance (`sources` and `location`).")

    # -- helpers the runtime uses ------------------------------------------------
    def stage(self, name: str) -> Any:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def model(self, name: str) -> Model:
        return next(m for m in self.models if m.id == name)

    def dataset(self, name: str) -> Dataset:
        return next(d for d in self.datasets if d.id == name)

    def program(self, stage: str) -> Program:
        return next(p for p in self.programs if p.stage == stage)

    def content(self) -> dict[str, Any]:
        """The plan as plain JSON data, without the hash."""
        data = self.model_dump(mode="json", by_alias=True)
        data.pop("hash", None)
        return data

    def compute_hash(self) -> str:
        """sha256 of what the plan does: everything but provenance (`sources`, `location`).

        Reformatting a file, editing comments or moving a file therefore keeps the hash, while
        any change to a principle, question, template, model, dataset or stage changes it.
        """
        data = _without_provenance(self.content())
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def with_hash(self) -> Plan:
        return self.model_copy(update={"hash": self.compute_hash()})

    def to_json(self) -> str:
        data = self.content()
        data["hash"] = self.hash or self.compute_hash()
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.model_validate_json(text)


def _without_provenance(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_provenance(v) for k, v in value.items()
                if k not in ("location", "sources")}
    if isinstance(value, list):
        return [_without_provenance(v) for v in value]
    return value


def plan_schema() -> dict[str, Any]:
    """JSON Schema of the plan."""
    return Plan.model_json_schema(by_alias=True)
