"""CL404 unswapped-small-judge: position swapping disabled on a small judge model."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Fix, Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules._edits import set_value
from constlang.lint.rules._models import SMALL, parameters, size_words


def check(ctx: LintContext) -> Iterator[Finding]:
    for stage in ctx.stages("feedback"):
        s = stage.settings
        if s.swap_positions:
            continue
        judge = ctx.plan.model(s.judge)
        size = parameters(judge)
        if size is None or size >= SMALL:
            continue
        sym = ctx.stage_symbol(stage)
        edit = set_value(ctx, sym, "swap_positions", "true")
        yield Finding(f"stage `{stage.name}` scores each pair in one order only, with a "
                      f"{size_words(size)} judge (`{judge.id}`)",
                      ctx.value_span(sym, "swap_positions"),
                      "set `swap_positions = true`: small judges pick the same slot after a "
                      "swap in over half the pairs",
                      Fix("set `swap_positions = true`", (edit,), safe=False) if edit else None)


RULE = Rule(
    code="CL404", name="unswapped-small-judge", category="feedback", severity=Severity.WARNING,
    summary="Position swapping disabled on a small judge model.",
    rationale="Judges prefer a slot regardless of content, small ones most: measured here on "
    "the embedded 135M model, the (A)/(B) format picked the same slot after a swap in 67 % of "
    "clear-cut pairs. Scoring both orders and averaging cancels that bias; turning it off "
    "on a judge under 10B parameters turns the labels into a measure of position.",
    bad='''model judge { source = "HuggingFaceTB/SmolLM2-1.7B-Instruct" }
stage feedback { policy = sft  judge = judge  prompts = d  swap_positions = false }''',
    good='''model judge { source = "HuggingFaceTB/SmolLM2-1.7B-Instruct" }
stage feedback { policy = sft  judge = judge  prompts = d  swap_positions = true }''',
    check=check, fix="unsafe",
)
