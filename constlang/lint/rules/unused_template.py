"""CL101 unused-template: a template no stage renders."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule


def check(ctx: LintContext) -> Iterator[Finding]:
    if not ctx.plan.stages:
        return  # a library of declarations for other files to use
    used = ctx.referenced("template")
    for tpl in ctx.templates():
        if tpl.name not in used:
            yield Finding(f"template `{tpl.name}` is not used by any stage", tpl.name_span,
                          "point a stage at it (e.g. `critique_template = "
                          f"{tpl.name}`) or remove it")


RULE = Rule(
    code="CL101", name="unused-template", category="unused", severity=Severity.WARNING,
    summary="A template that no stage of the constitution renders.",
    rationale="A template only reaches a model through a stage setting such as "
    "`critique_template`, or by replacing a prelude template of the same name. One that no "
    "stage names is dead text, and usually a sign that a stage still points at the default "
    "template the author meant to replace.",
    bad='''template my_critique(prompt, response, principle) """
{{ prompt }} / {{ response }}: {{ principle.critique }}
"""
stage critique_revision { model = m  prompts = d }''',
    good='''template my_critique(prompt, response, principle) """
{{ prompt }} / {{ response }}: {{ principle.critique }}
"""
stage critique_revision { model = m  prompts = d  critique_template = my_critique }''',
    check=check,
)
