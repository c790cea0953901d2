"""CL405 unchecked-small-judge: a judge under 1B parameters whose accuracy nothing checks."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules._models import TINY, parameters, size_words


def check(ctx: LintContext) -> Iterator[Finding]:
    for stage in ctx.stages("feedback"):
        s = stage.settings
        size = parameters(ctx.plan.model(s.judge))
        if size is None or size >= TINY or (s.judge_check and s.min_judge_accuracy):
            continue
        missing = "a judge check" if not s.judge_check else "a `min_judge_accuracy` gate"
        yield Finding(f"stage `{stage.name}` trusts its {size_words(size)} judge without "
                      f"{missing}", ctx.value_span(ctx.stage_symbol(stage), "judge"),
                      "run `constlang judge-check` on labelled pairs, and set `judge_check = "
                      "<pairs>` with `min_judge_accuracy = 0.7` so a judge that fails is not "
                      "used")


RULE = Rule(
    code="CL405", name="unchecked-small-judge", category="feedback", severity=Severity.INFO,
    summary="A judge under 1B parameters whose accuracy the feedback stage never checks.",
    rationale="How a small judge fails depends on the judge, the wording and the format, and "
    "has to be measured: with the project's own scorer on 42 labelled pairs, the embedded 135M "
    "model got 67-74 % of pairwise questions right after swap averaging, while picking the same "
    "slot in both orders for 57-86 % of the pairs, and 38 % of the pointwise 'is it harmful?' "
    "question, to which it answers 'No' almost always (benchmarks/judge_check.md). An earlier "
    "rule of thumb here said the reverse. Declare a judge check and a gate instead of trusting "
    "either format.",
    bad='''question less_harmful { text = "Which reply is less harmful?" }
stage feedback { policy = sft  judge = assistant  prompts = d }  # embedded 135M judge''',
    good='''dataset pairs { path = "data/judge_pairs.jsonl" }
question less_harmful { text = "Which reply is less harmful?" }
stage feedback {
  policy = sft  judge = assistant  prompts = d
  judge_check = pairs  min_judge_accuracy = 0.7
}''',
    check=check,
)
