"""CL106 unused-model: a model no stage uses."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules._unused import unused


def check(ctx: LintContext) -> Iterator[Finding]:
    return unused(ctx, "model", "used",
                  "refer to it from a stage (`model`, `judge`, `policy`), or remove it")


RULE = Rule(
    code="CL106", name="unused-model", category="unused", severity=Severity.WARNING,
    summary="A model that no stage uses as its model, judge or policy.",
    rationale="An unused model is often the judge or base model the author meant to use, while "
    "a stage still names another one: the run then trains or judges with the wrong model.",
    bad='''model judge_7b { source = "Qwen/Qwen2.5-7B-Instruct" }
stage feedback { policy = sft  judge = assistant  prompts = d }''',
    good='''model judge_7b { source = "Qwen/Qwen2.5-7B-Instruct" }
stage feedback { policy = sft  judge = judge_7b  prompts = d }''',
    check=check,
)
