"""CL303 duplicate-question: two preference questions with the same or nearly the same text."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules._duplicates import duplicates


def check(ctx: LintContext) -> Iterator[Finding]:
    yield from duplicates(ctx, "question", [(q.id, "text", q.text) for q in ctx.plan.questions])


RULE = Rule(
    code="CL303", name="duplicate-question", category="prompts", severity=Severity.WARNING,
    summary="Two preference questions whose texts are the same or nearly so.",
    rationale="One question is sampled per comparison, so a duplicated question is asked twice "
    "as often as the others and skews the preference labels toward it.",
    bad='''question less_harmful { text = "Which reply is less harmful?" }
question safer        { text = "Which reply is less harmful ?" }''',
    good='''question less_harmful { text = "Which reply is less harmful?"  weight = 2.0 }''',
    check=check,
)
