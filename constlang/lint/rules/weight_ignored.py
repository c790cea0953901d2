"""CL203 weight-ignored: a principle weight that in_order sampling never looks at."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule


def check(ctx: LintContext) -> Iterator[Finding]:
    policies: dict[str, set[str]] = {}
    for stage in ctx.stages("critique_revision"):
        for name in stage.settings.principles:
            policies.setdefault(name, set()).add(stage.settings.sampling)
    for sym in ctx.local_symbols("principle"):
        f = ctx.field(sym, "weight")
        if f is None or not ctx.in_file(f.value.span) or policies.get(sym.name) != {"in_order"}:
            continue
        value = f.value
        if getattr(value, "value", None) in (0, 1):
            continue  # 0 still removes it; 1 is the default
        yield Finding(f"the weight of principle `{sym.name}` has no effect: every stage that "
                      "selects it uses `sampling = in_order`", f.value.span,
                      "use `sampling = per_revision` for weighted draws, or remove the weight")


RULE = Rule(
    code="CL203", name="weight-ignored", category="sampling", severity=Severity.WARNING,
    summary="A principle weight that has no effect because its stages sample in order.",
    rationale="`sampling = in_order` walks the selected principles one after another and "
    "ignores weights (other than 0, which removes a principle). A weight of 2.0 then reads as "
    "'twice as often' while every principle is used equally.",
    bad='''principle evasive { critique = "..." revision = "..." weight = 2.0 }
stage critique_revision { model = m  prompts = d  sampling = in_order }''',
    good='''principle evasive { critique = "..." revision = "..." weight = 2.0 }
stage critique_revision { model = m  prompts = d  sampling = per_revision }''',
    check=check,
)
