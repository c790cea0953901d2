"""Stage kinds, shared: the prompt steps several kinds have, and the kinds that save a policy."""

from __future__ import annotations

from constlang.kinds.record import StepSpec, When

# the kinds whose stages save a policy (a causal LM) that other stages and evaluate may load
# by stage name: a new kind that saves one is one line here
POLICY_KINDS: tuple[str, ...] = ("sft", "dpo", "ppo", "grpo", "rloo")

RESPOND_VARIABLES = ("prompt", "examples")  # what a reply to a prompt receives
PAIR = ("prompt", "response_a", "response_b", "question", "examples")  # a judged pair
ONE = ("prompt", "response", "question", "examples")  # a judged reply


def respond(model_setting: str) -> StepSpec:
    """The first answer to a prompt, by the model (or policy) that `model_setting` names."""
    return StepSpec("respond", "respond_template", model_setting, "generate", RESPOND_VARIABLES)


def compare(variables: tuple[str, ...] = PAIR) -> StepSpec:
    """A judge's pairwise question, scored (feedback, evaluate)."""
    return StepSpec("compare", "compare_template", "judge", "score", variables,
                    when=When.PAIRWISE_QUESTIONS, question_kind="pairwise",
                    question_setting="questions")


# a judge's pointwise question about one reply, scored (feedback, evaluate)
POINTWISE = StepSpec("pointwise", "pointwise_template", "judge", "score", ONE,
                     when=When.POINTWISE_QUESTIONS, question_kind="pointwise",
                     question_setting="questions")


def judge(when: When) -> StepSpec:
    """A judge's `judge_question` about one reply, scored when `when` holds."""
    return StepSpec("judge", "pointwise_template", "judge", "score", ONE, when=when,
                    question_kind="pointwise", question_setting="judge_question")
