"""CL402 unclamped-chain-of-thought: CoT feedback without a clamp inside (0, 1)."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Fix, Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules._edits import add_field_after, set_value

PAPER_CLAMP = "[0.4, 0.6]"


def check(ctx: LintContext) -> Iterator[Finding]:
    for stage in ctx.stages("feedback"):
        s = stage.settings
        if not s.chain_of_thought:
            continue
        sym = ctx.stage_symbol(stage)
        if s.clamp is None:
            edit = add_field_after(ctx, sym, "chain_of_thought", f"clamp = {PAPER_CLAMP}")
            yield Finding(f"stage `{stage.name}` uses chain-of-thought feedback without `clamp`",
                          ctx.value_span(sym, "chain_of_thought"),
                          f"add `clamp = {PAPER_CLAMP}`, the range the method uses",
                          Fix(f"add `clamp = {PAPER_CLAMP}`", (edit,), safe=False)
                          if edit else None)
        elif s.clamp[0] <= 0.0 or s.clamp[1] >= 1.0:
            edit = set_value(ctx, sym, "clamp", PAPER_CLAMP)
            yield Finding(f"the clamp [{s.clamp[0]:g}, {s.clamp[1]:g}] of stage `{stage.name}` "
                          "is not a proper sub-interval of [0, 1], so it leaves the "
                          "overconfident extremes in place", ctx.value_span(sym, "clamp"),
                          f"clamp strictly inside (0, 1), e.g. {PAPER_CLAMP}",
                          Fix(f"use {PAPER_CLAMP}", (edit,), safe=False) if edit else None)


RULE = Rule(
    code="CL402", name="unclamped-chain-of-thought", category="feedback",
    severity=Severity.WARNING,
    summary="Chain-of-thought feedback without clamping, or with a clamp that is not a proper "
    "sub-interval of [0, 1].",
    rationale="After a rationale the judge's option probabilities are overconfident, close to "
    "0 or 1, which undoes the benefit of soft labels. The Constitutional AI paper clamps them "
    "to 40-60 %. A missing clamp, or one that reaches 0 or 1, keeps the extremes.",
    bad='''stage feedback {
  policy = sft  judge = m  prompts = d
  chain_of_thought = true
}''',
    good='''stage feedback {
  policy = sft  judge = m  prompts = d
  chain_of_thought = true
  clamp = [0.4, 0.6]
}''',
    check=check, fix="unsafe",
)
