"""CL105 unused-template-parameter: a declared template parameter its text never uses."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Edit, Fix, Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules._edits import outside_comments, remove_item
from constlang.syntax import ast


def _removal(text: str, params: tuple[ast.Param, ...], i: int) -> tuple[Edit, ...]:
    """Delete parameter i with one of the commas beside it, keeping comments."""
    close = outside_comments(text, params[-1].span.end, len(text), ")")[0]
    return remove_item(text, [(p.span.start, p.span.end) for p in params], i, close)


def check(ctx: LintContext) -> Iterator[Finding]:
    for tpl in ctx.templates():
        sym = ctx.symbol("template", tpl.name)
        if sym is None or sym.node is not tpl:
            continue
        used = ctx.checked.template_vars.get(tpl.name, set())
        unused = [i for i, p in enumerate(tpl.params) if p.name not in used]
        for n, i in enumerate(unused):
            p = tpl.params[i]
            # one fix for the first: removing several adjacent ones at once would overlap.
            # Never safe: the plan lists the parameters, and the runtime reads them (a
            # template that declares `examples` receives the few-shot examples in its text
            # instead of as chat turns, so removing it changes what the model is sent).
            fix = Fix(f"remove parameter `{p.name}`", _removal(ctx.source.text, tpl.params, i),
                      safe=False) if n == 0 else None
            help = "remove the parameter, or use it in the text"
            if p.name == "examples":
                help += "; while `examples` is declared the step sends no few-shot chat turns " \
                    "(the text is expected to show them), so removing it changes what the " \
                    "model is sent"
            yield Finding(f"template `{tpl.name}` declares `{p.name}` but never uses it",
                          p.span, help, fix)


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
    check=check, fix="unsafe",
)
