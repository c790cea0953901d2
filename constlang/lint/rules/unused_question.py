"""CL104 unused-question: a preference question no feedback stage asks."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules._unused import unused


def check(ctx: LintContext) -> Iterator[Finding]:
    return unused(ctx, "question", "asked",
                  "add it to a feedback stage's `questions`, or remove it")


RULE = Rule(
    code="CL104", name="unused-question", category="unused", severity=Severity.WARNING,
    summary="A preference question that no feedback stage asks.",
    rationale="Questions only produce preference labels through a feedback stage. One that "
    "no stage selects (or a constitution with no feedback stage at all) means the AI-feedback "
    "half of the method is not doing what the file suggests.",
    bad='''question less_harmful { text = "Which reply is less harmful?" }
stage critique_revision { model = m  prompts = d }''',
    good='''question less_harmful { text = "Which reply is less harmful?" }
stage feedback { policy = sft  judge = m  prompts = d  questions = [less_harmful] }''',
    check=check,
)
