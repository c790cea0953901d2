"""CL403 asymmetric-clamp: a clamp that is not centred on 0.5."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule


def check(ctx: LintContext) -> Iterator[Finding]:
    for stage in ctx.stages("feedback"):
        clamp = stage.settings.clamp
        if clamp is None or abs(clamp[0] + clamp[1] - 1.0) < 1e-9:
            continue
        low, high = clamp
        favoured = "the first option" if low + high > 1.0 else "the second option"
        yield Finding(f"the clamp [{low:g}, {high:g}] of stage `{stage.name}` is not centred on "
                      f"0.5, so it leans every label toward {favoured}",
                      ctx.value_span(ctx.stage_symbol(stage), "clamp"),
                      f"use a symmetric range such as [{low:g}, {1 - low:g}]")


RULE = Rule(
    code="CL403", name="asymmetric-clamp", category="feedback", severity=Severity.WARNING,
    summary="A probability clamp whose bounds do not add up to 1.",
    rationale="The clamp bounds the probability that the first option wins; the second gets "
    "one minus it. [0.3, 0.6] lets the second option win with 0.7 but the first with only "
    "0.6, a position bias introduced by the constitution itself.",
    bad='''stage feedback { policy = sft  judge = m  prompts = d  clamp = [0.3, 0.6] }''',
    good='''stage feedback { policy = sft  judge = m  prompts = d  clamp = [0.4, 0.6] }''',
    check=check,
)
