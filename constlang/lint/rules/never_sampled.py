"""CL201 never-sampled: a selected principle or question that sampling can never draw."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.preview import count_rows


def _in_order_misses(ctx: LintContext) -> dict[str, dict[str, str]]:
    """principle → stage → why that in_order stage never reaches it."""
    out: dict[str, dict[str, str]] = {}
    weights = {p.id: p.weight for p in ctx.plan.principles}
    for stage in ctx.stages("critique_revision"):
        s = stage.settings
        if s.sampling != "in_order":
            continue
        prompts = count_rows(ctx.plan, s.prompts, ctx.result.base_dir)
        if prompts is None:
            continue
        rounds = prompts * s.revisions
        drawable = [p for p in s.principles if weights[p] > 0]
        for i, name in enumerate(drawable):
            if i >= rounds:
                out.setdefault(name, {})[stage.name] = (
                    f"stage `{stage.name}` takes principles in order and runs "
                             f"{prompts}×{s.revisions} = {rounds} rounds, so it never reaches "
                             f"this one (number {i + 1} of {len(drawable)})")
    return out


def check(ctx: LintContext) -> Iterator[Finding]:
    weights = {p.id: p.weight for p in ctx.plan.principles}
    selecting: dict[str, list[str]] = {}
    for stage in ctx.stages("critique_revision"):
        for name in stage.settings.principles:
            selecting.setdefault(name, []).append(stage.name)
    misses = _in_order_misses(ctx)
    for sym in ctx.local_symbols("principle"):
        stages = selecting.get(sym.name)
        if not stages:
            continue  # unused-principle reports it
        if weights[sym.name] == 0:
            yield Finding(f"principle `{sym.name}` has weight 0, so no stage ever samples it",
                          ctx.value_span(sym, "weight"),
                          "give it a weight above 0, or leave it out of the stage")
        elif all(s in misses.get(sym.name, {}) for s in stages):
            yield Finding(f"principle `{sym.name}` is never sampled: "
                          + "; ".join(misses[sym.name][s] for s in stages),
                          ctx.name_span(sym), "raise `revisions` or the prompt count, or use "
                          "`sampling = per_revision`")
    asking: set[str] = set()
    for stage in ctx.stages("feedback"):
        if stage.settings.question_sampling == "per_comparison":
            asking.update(stage.settings.questions)
    q_weights = {q.id: q.weight for q in ctx.plan.questions}
    for sym in ctx.local_symbols("question"):
        if sym.name in asking and q_weights[sym.name] == 0:
            yield Finding(f"question `{sym.name}` has weight 0, so no comparison ever asks it",
                          ctx.value_span(sym, "weight"),
                          "give it a weight above 0, or leave it out of the stage")


RULE = Rule(
    code="CL201", name="never-sampled", category="sampling", severity=Severity.WARNING,
    summary="A principle or question a stage selects but can never draw.",
    rationale="The Constitutional AI method samples one principle per revision step (and one "
    "question per comparison) in proportion to its weight. A weight of 0 removes it from "
    "the draw, and `sampling = in_order` continues through the list from prompt to prompt, so a "
    "stage with fewer rounds in all (prompts × revisions) than principles never reaches the "
    "last ones: the constitution lists a principle that has no effect on training.",
    bad='''principle lecturing { critique = "..." revision = "..."  weight = 0 }
stage critique_revision { model = m  prompts = d  principles = all }''',
    good='''principle lecturing { critique = "..." revision = "..."  weight = 0.5 }
stage critique_revision { model = m  prompts = d  principles = all }''',
    check=check,
)
