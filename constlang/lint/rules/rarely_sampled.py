"""CL202 rarely-sampled: a weight so small against the others that it is practically never drawn."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule

RATIO = 100  # drawn this many times less often than the heaviest: practically never


def _pools(ctx: LintContext) -> Iterator[tuple[str, str, list[tuple[str, float]]]]:
    """(kind, stage, [(name, weight)]) for each weighted random draw a stage makes."""
    principles = {p.id: p.weight for p in ctx.plan.principles}
    for stage in ctx.stages("critique_revision"):
        if stage.settings.sampling != "in_order":
            yield "principle", stage.name, [(n, principles[n]) for n in stage.settings.principles]
    questions = {q.id: q.weight for q in ctx.plan.questions}
    for stage in ctx.stages("feedback"):
        if stage.settings.question_sampling == "per_comparison":
            yield "question", stage.name, [(n, questions[n]) for n in stage.settings.questions]


def check(ctx: LintContext) -> Iterator[Finding]:
    reported: set[tuple[str, str]] = set()
    for kind, stage, pool in _pools(ctx):
        drawn = [(n, w) for n, w in pool if w > 0]
        if len(drawn) < 2:
            continue
        top, top_w = max(drawn, key=lambda nw: nw[1])
        total = sum(w for _, w in drawn)
        for name, w in drawn:
            sym = ctx.symbol(kind, name)
            if w * RATIO > top_w or sym is None or not ctx.is_local(sym) or \
                    (kind, name) in reported:
                continue
            reported.add((kind, name))
            yield Finding(
                f"{kind} `{name}` (weight {w:g}) is drawn {top_w / w:,.0f}× less often than "
                f"`{top}` (weight {top_w:g}): stage `{stage}` picks it in about 1 of "
                f"{total / w:,.0f} draws", ctx.value_span(sym, "weight"),
                f"weights are relative; give it at least {top_w / RATIO:g}, or leave it out")


RULE = Rule(
    code="CL202", name="rarely-sampled", category="sampling", severity=Severity.WARNING,
    summary="A principle or question whose weight makes it practically unreachable.",
    rationale="Weights are relative: a principle of weight 0.001 beside others of weight 1 is "
    "drawn about once in a thousand revision steps, which in a run of a few thousand prompts "
    "may be never. Such a weight is usually a typo (0.001 for 0.1) or an attempt to disable "
    "a principle; say that with `drop` or by leaving it out of the stage.",
    bad='''principle harmful  { critique = "..." revision = "..." weight = 1.0 }
principle lecturing { critique = "..." revision = "..." weight = 0.001 }
stage critique_revision { model = m  prompts = d }''',
    good='''principle harmful  { critique = "..." revision = "..." weight = 1.0 }
principle lecturing { critique = "..." revision = "..." weight = 0.1 }
stage critique_revision { model = m  prompts = d }''',
    check=check,
)
