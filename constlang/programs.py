"""Prompt-program shapes: which steps each stage kind runs and what its templates receive."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StepSpec:
    name: str
    template_setting: str  # the stage setting naming the template
    model_setting: str  # the stage setting naming the model (or policy stage) called
    mode: str  # "generate" or "score"
    provides: tuple[str, ...]  # variables the runtime passes to the template
    repeat_setting: str | None = None  # a stage setting giving the repeat count
    when: str = "always"


STEPS: dict[str, tuple[StepSpec, ...]] = {
    "critique_revision": (
        StepSpec("respond", "respond_template", "model", "generate", ("prompt", "examples")),
        StepSpec("critique", "critique_template", "model", "generate",
                 ("prompt", "response", "principle", "examples", "round"), "revisions"),
        StepSpec("revise", "revision_template", "model", "generate",
                 ("prompt", "response", "critique", "principle", "examples", "round"),
                 "revisions", "skip_when_no_critique is false or the critique asks for a change"),
    ),
    "feedback": (
        StepSpec("respond", "respond_template", "policy", "generate", ("prompt", "examples")),
        StepSpec("rationale", "rationale_template", "judge", "generate",
                 ("prompt", "response_a", "response_b", "question", "examples"),
                 when="chain_of_thought"),
        StepSpec("compare", "compare_template", "judge", "score",
                 ("prompt", "response_a", "response_b", "question", "examples", "rationale"),
                 when="pairwise questions"),
        StepSpec("pointwise", "pointwise_template", "judge", "score",
                 ("prompt", "response", "question", "examples"), when="pointwise questions"),
    ),
    "ppo": (
        StepSpec("respond", "respond_template", "policy", "generate", ("prompt", "examples")),
    ),
}
