"""CL311 padded-text: a one-line request or question with spaces at its start or end."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Edit, Fix, Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules.empty_text import TEXT_FIELDS
from constlang.syntax import ast


def _strings(value: ast.Value) -> Iterator[ast.Str]:
    if isinstance(value, ast.Str):
        yield value
    elif isinstance(value, ast.List):
        for item in value.items:
            yield from _strings(item)


def check(ctx: LintContext) -> Iterator[Finding]:
    text = ctx.source.text
    for kind, names in TEXT_FIELDS.items():
        for decl in ctx.declarations(kind):
            for f in decl.fields:
                if f.name not in names:
                    continue
                for s in _strings(f.value):
                    if s.long or not s.value.strip() or s.value == s.value.strip():
                        continue
                    raw = text[s.span.start + 1:s.span.end - 1]
                    fix = None
                    inner = raw.strip(" \t")
                    if inner != raw and not inner.startswith("\\") and not inner.endswith("\\"):
                        # unsafe: the text reaches the prompt, so trimming changes the plan
                        fix = Fix("trim the spaces", (Edit(s.span.start + 1, s.span.end - 1,
                                                           inner),), safe=False)
                    yield Finding(f"`{f.name}` of {kind} `{decl.name}` starts or ends with "
                                  "whitespace", s.span, "trim it: the spaces reach the prompt",
                                  fix)


RULE = Rule(
    code="CL311", name="padded-text", category="prompts", severity=Severity.WARNING,
    summary="A one-line critique, revision, question or example text with leading or trailing "
    "whitespace.",
    rationale="Templates place these texts verbatim, so stray spaces change the prompt's "
    "tokens (a trailing space before the model's turn is a known cause of odd generations) "
    "and make two otherwise equal texts differ.",
    bad='''principle harmful { critique = " Point out anything harmful.  "  revision = "..." }''',
    good='''principle harmful { critique = "Point out anything harmful."  revision = "..." }''',
    check=check, fix="unsafe", needs_plan=False,
)
