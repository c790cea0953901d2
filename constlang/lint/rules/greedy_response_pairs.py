"""CL406 greedy-response-pairs: a feedback stage that samples its pairs greedily."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule


def check(ctx: LintContext) -> Iterator[Finding]:
    for stage in ctx.stages("feedback"):
        model = ctx.policy_model(stage.settings.policy)
        if model is None or model.temperature > 0:
            continue
        sym = ctx.symbol("model", model.id)
        span = ctx.value_span(sym, "temperature") if sym and ctx.is_local(sym) else \
            ctx.value_span(ctx.stage_symbol(stage), "policy")
        yield Finding(f"stage `{stage.name}` samples its response pairs from `{model.id}` at "
                      "temperature 0, so both replies of every pair are the same", span,
                      "sample the pairs with a temperature above 0 (e.g. 0.7)")


RULE = Rule(
    code="CL406", name="greedy-response-pairs", category="feedback", severity=Severity.ERROR,
    summary="A feedback stage whose policy samples its two responses at temperature 0.",
    rationale="Preference data compares two responses to the same prompt. With greedy "
    "decoding both are the same text, every label is a tie, and the reward model learns "
    "nothing. The temperature that matters is the policy model's.",
    bad='''model assistant { source = "embedded:smollm2-135m-instruct"  temperature = 0 }
stage feedback { policy = assistant  judge = assistant  prompts = d }''',
    good='''model assistant { source = "embedded:smollm2-135m-instruct"  temperature = 0.7 }
stage feedback { policy = assistant  judge = assistant  prompts = d }''',
    check=check,
)
