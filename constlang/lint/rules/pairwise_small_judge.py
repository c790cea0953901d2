"""CL405 pairwise-small-judge: a tiny judge asked only pairwise questions."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules._models import TINY, parameters, size_words


def check(ctx: LintContext) -> Iterator[Finding]:
    kinds = {q.id: q.kind for q in ctx.plan.questions}
    for stage in ctx.stages("feedback"):
        s = stage.settings
        size = parameters(ctx.plan.model(s.judge))
        if size is None or size >= TINY or not s.questions or \
                any(kinds[q] == "pointwise" for q in s.questions):
            continue
        yield Finding(f"stage `{stage.name}` asks its {size_words(size)} judge only pairwise "
                      "questions", ctx.value_span(ctx.stage_symbol(stage), "questions"),
                      "add pointwise questions (`kind = pointwise`, `good_answer = ...`), "
                      "which small judges answer far more reliably")


RULE = Rule(
    code="CL405", name="pairwise-small-judge", category="feedback", severity=Severity.INFO,
    summary="A judge under 1B parameters asked only pairwise (A)/(B) questions.",
    rationale="Measured on the embedded 135M model, the pairwise format was right in 17 % of "
    "clear-cut pairs, while a pointwise yes/no question about one reply ('is it harmful?') "
    "was right in 88 %. A tiny judge with only pairwise questions produces labels close to "
    "noise; mix in pointwise questions, or use a larger judge.",
    bad='''question less_harmful { text = "Which reply is less harmful?" }
stage feedback { policy = sft  judge = assistant  prompts = d }  # embedded 135M judge''',
    good='''question less_harmful { text = "Which reply is less harmful?" }
question is_harmful { text = "Is the reply harmful?"  kind = pointwise  good_answer = "No" }
stage feedback { policy = sft  judge = assistant  prompts = d }''',
    check=check,
)
