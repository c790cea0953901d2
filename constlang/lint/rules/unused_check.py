"""CL108 unused-check: a check no principle, question or stage uses."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule


def used_checks(ctx: LintContext) -> set[str]:
    """Checks a principle or question lists, or a stage setting names (`all` included)."""
    used = ctx.referenced("check")
    for principle in ctx.plan.principles:
        used.update(principle.checks)
    for question in ctx.plan.questions:
        used.update(question.checks)
    return used


def check(ctx: LintContext) -> Iterator[Finding]:
    if not ctx.plan.stages:
        return  # a library of declarations for other files to use
    used = used_checks(ctx)
    for sym in ctx.local_symbols("check"):
        if sym.name not in used:
            yield Finding(f"check `{sym.name}` is not used by any principle, question or stage",
                          ctx.name_span(sym),
                          "list it in a principle's or question's `checks`, or in a stage's "
                          "`checks`, or remove it")


RULE = Rule(
    code="CL108", name="unused-check", category="unused", severity=Severity.WARNING,
    summary="A check that no principle, question or stage uses.",
    rationale="A check only judges replies where something asks for it: a principle or "
    "question that lists it in `checks`, or a stage whose `checks` setting names it (or "
    "selects `all`). One that nothing names is never run, yet readers of the constitution "
    "will assume replies are held to it.",
    bad='''check short { checker = length  max = 120 }
principle harmful { critique = "..."  revision = "..." }
stage critique_revision { model = m  prompts = d }''',
    good='''check short { checker = length  max = 120 }
principle harmful { critique = "..."  revision = "..."  checks = [short] }
stage critique_revision { model = m  prompts = d }''',
    check=check,
)
