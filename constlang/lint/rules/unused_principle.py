"""CL103 unused-principle: a principle no stage selects."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules._unused import unused


def check(ctx: LintContext) -> Iterator[Finding]:
    return unused(ctx, "principle", "selected",
                  "add it to a critique_revision stage's `principles`, or `drop` it")


RULE = Rule(
    code="CL103", name="unused-principle", category="unused", severity=Severity.WARNING,
    summary="A principle that no critique_revision stage selects.",
    rationale="Principles only shape training through the critique_revision stages that "
    "sample them. A principle outside every stage's `principles` list never reaches a "
    "critique, yet readers of the constitution will assume it is in force.",
    bad='''principle privacy { critique = "..." revision = "..." }
stage critique_revision { model = m  prompts = d  principles = [harmful] }''',
    good='''principle privacy { critique = "..." revision = "..." }
stage critique_revision { model = m  prompts = d  principles = [harmful, privacy] }''',
    check=check,
)
