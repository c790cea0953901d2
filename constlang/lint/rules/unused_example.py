"""CL102 unused-example: an example no stage shows."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules._unused import unused


def check(ctx: LintContext) -> Iterator[Finding]:
    return unused(ctx, "example", "shown",
                  "add it to a stage's `examples`, or remove it")


RULE = Rule(
    code="CL102", name="unused-example", category="unused", severity=Severity.WARNING,
    summary="A few-shot example that no stage selects.",
    rationale="Few-shot examples teach a small model the critique and revision format; an "
    "example that no stage selects never reaches a prompt. critique_revision stages select "
    "every example by default, feedback stages none, so a list such as `examples = [a]` "
    "silently leaves the others out.",
    bad='''example wine { prompt = "..." response = "..." critique = "..." revision = "..." }
stage critique_revision { model = m  prompts = d  examples = [] }''',
    good='''example wine { prompt = "..." response = "..." critique = "..." revision = "..." }
stage critique_revision { model = m  prompts = d  examples = [wine] }''',
    check=check,
)
