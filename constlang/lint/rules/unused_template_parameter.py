"""CL105 unused-template-parameter: a declared template parameter its text never uses."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Edit, Fix, Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.syntax import ast


def _removal(params: tuple[ast.Param, ...], i: int) -> Edit:
    """Delete parameter i with one of the commas beside it."""
    p = params[i]
    if i + 1 < len(params):
        return Edit(p.span.start, params[i + 1].span.start, "")
    if i > 0:
        return Edit(params[i - 1].span.end, p.span.end, "")
    return Edit(p.span.start, p.span.end, "")


def check(ctx: LintContext) -> Iterator[Finding]:
    for tpl in ctx.templates():
        sym = ctx.symbol("template", tpl.name)
        if sym is None or sym.node is not tpl:
            continue
        used = ctx.checked.template_vars.get(tpl.name, set())
        unused = [i for i, p in enumerate(tpl.params) if p.name not in used]
        for n, i in enumerate(unused):
            p = tpl.params[i]
            # one fix for the first: removing several adjacent ones at once would overlap
            fix = Fix(f"remove parameter `{p.name}`", (_removal(tpl.params, i),)) if n == 0 \
                else None
            yield Finding(f"template `{tpl.name}` declares `{p.name}` but never uses it",
                          p.span, "remove the parameter, or use it in the text", fix)


RULE = Rule(
    code="CL105", name="unused-template-parameter", category="unused",
    severity=Severity.WARNING,
    summary="A template parameter that the template's text never uses.",
    rationale="A template's parameters say which inputs reach the model. A declared but "
    "unused parameter suggests the prompt lost a part it was meant to show (the critique in a "
    "revision prompt, the examples in a critique prompt) and misleads the reader of the plan, "
    "which lists the parameter as a variable of the step.",
    bad='''template respond_prompt(prompt, examples) """
{{ prompt }}
"""''',
    good='''template respond_prompt(prompt) """
{{ prompt }}
"""''',
    check=check, fix="safe",
)
