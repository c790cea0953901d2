"""CL406 greedy-response-pairs: a stage that samples the replies it compares greedily."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule


def check(ctx: LintContext) -> Iterator[Finding]:
    for stage in ctx.stages("feedback"):
        model = ctx.policy_model(stage.settings.policy)
        if model is None or model.temperature > 0:
            continue
        yield Finding(f"stage `{stage.name}` samples its response pairs from `{model.id}` at "
                      "temperature 0, so both replies of every pair are the same",
                      _where(ctx, stage, model.id), "sample the pairs with a temperature above "
                      "0 (e.g. 0.7)")
    for stage in ctx.stages("best_of_n"):
        s = stage.settings
        model = ctx.policy_model(s.policy)
        if model is None or s.samples < 2:
            continue
        if s.temperature is not None:
            if s.temperature > 0:
                continue
            span = ctx.value_span(ctx.stage_symbol(stage), "temperature")
        elif model.temperature > 0:
            continue
        else:
            span = _where(ctx, stage, model.id)
        yield Finding(f"stage `{stage.name}` samples {s.samples} replies per prompt from "
                      f"`{model.id}` at temperature 0, so every sample is the same text", span,
                      "sample with a temperature above 0 (e.g. `temperature = 0.9` in the "
                      "stage), or set `samples = 1`")


def _where(ctx: LintContext, stage: Any, model: str) -> Any:
    """The model's `temperature` when this file declares it, else the stage's `policy`."""
    sym = ctx.symbol("model", model)
    return ctx.value_span(sym, "temperature") if sym and ctx.is_local(sym) else \
        ctx.value_span(ctx.stage_symbol(stage), "policy")


RULE = Rule(
    code="CL406", name="greedy-response-pairs", category="feedback", severity=Severity.ERROR,
    summary="A feedback stage whose policy samples its two responses at temperature 0, or a "
    "best_of_n stage that samples several replies per prompt at temperature 0.",
    rationale="Preference data compares two responses to the same prompt. With greedy "
    "decoding both are the same text, every label is a tie, and the reward model learns "
    "nothing; rejection sampling draws the same reply N times, so a prompt whose first reply "
    "fails never gets a passing one. The temperature that matters is the policy model's (a "
    "best_of_n stage's own `temperature` overrides it).",
    bad='''model assistant { source = "embedded:smollm2-135m-instruct"  temperature = 0 }
stage feedback { policy = assistant  judge = assistant  prompts = d }''',
    good='''model assistant { source = "embedded:smollm2-135m-instruct"  temperature = 0.7 }
stage feedback { policy = assistant  judge = assistant  prompts = d }''',
    check=check,
)
