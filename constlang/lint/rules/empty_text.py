"""CL301 empty-text: an empty or whitespace-only request, question, example text or template."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.syntax import ast

TEXT_FIELDS = {
    "principle": ("critique", "revision"),
    "question": ("text", "options"),
    "example": ("prompt", "response", "critique_request", "critique", "revision_request",
                "revision"),
}


def _blank_strings(value: ast.Value) -> Iterator[ast.Str]:
    if isinstance(value, ast.Str) and not value.value.strip():
        yield value
    elif isinstance(value, ast.List):
        for item in value.items:
            yield from _blank_strings(item)


def check(ctx: LintContext) -> Iterator[Finding]:
    for kind, names in TEXT_FIELDS.items():
        for decl in ctx.declarations(kind):
            for f in decl.fields:
                if f.name not in names:
                    continue
                for s in _blank_strings(f.value):
                    what = "empty" if not s.value else "only whitespace"
                    yield Finding(f"`{f.name}` of {kind} `{decl.name}` is {what}", s.span,
                                  "write the text the model should see, or remove the field")
    for tpl in ctx.templates():
        if not tpl.body.value.strip():
            yield Finding(f"template `{tpl.name}` is empty", tpl.body.span,
                          "a stage that renders it sends the model an empty prompt")


RULE = Rule(
    code="CL301", name="empty-text", category="prompts", severity=Severity.ERROR,
    summary="An empty or whitespace-only critique, revision, question, example text or template.",
    rationale="An empty critique request makes the model critique against nothing, and an "
    "empty revision request makes it rewrite its reply without direction; the run still "
    "produces data, so the mistake shows up only in the trained model. The compiler accepts "
    "empty strings, so this rule catches them.",
    bad='''principle harmful { critique = "   "  revision = "Rewrite the reply without harm." }''',
    good='''principle harmful {
  critique = "Point out anything harmful in the reply."
  revision = "Rewrite the reply without harm."
}''',
    check=check, needs_plan=False,
)
