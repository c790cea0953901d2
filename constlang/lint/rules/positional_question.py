"""CL306 positional-question: a pairwise question that names a position."""

from __future__ import annotations

import re
from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.syntax import ast

_THING = r"(?:reply|replies|response|responses|answer|answers|option|one|assistant|message)"
POSITION = re.compile(
    rf"\b(?:first|second|former|latter|top|bottom|left|right|earlier|later)\s+{_THING}\b"
    r"|\bthe (?:former|latter)\b",
    re.IGNORECASE)
LABEL = re.compile(rf"(?i:\b{_THING})\s+(?:A|B|1|2)\b|\((?:A|B)\)")


def is_pairwise(decl: ast.Declaration) -> bool:
    f = decl.field("kind")
    return f is None or (isinstance(f.value, (ast.Ref, ast.Str)) and
                         getattr(f.value, "name", getattr(f.value, "value", "")) == "pairwise")


def check(ctx: LintContext) -> Iterator[Finding]:
    for decl in ctx.declarations("question"):
        f = decl.field("text")
        if f is None or not isinstance(f.value, ast.Str) or not is_pairwise(decl):
            continue
        m = POSITION.search(f.value.value) or LABEL.search(f.value.value)
        if m:
            yield Finding(f"question `{decl.name}` names a position (\"{m.group()}\")",
                          f.value.span, "ask about the replies by quality, e.g. \"Which reply is "
                          "less harmful?\"; the template shows the options")


RULE = Rule(
    code="CL306", name="positional-question", category="prompts", severity=Severity.WARNING,
    summary="A pairwise question that names one position ('the first response', '(A)').",
    rationale="Pairwise feedback is scored in both orders and averaged because judges are "
    "biased toward a slot; a question that names a slot ('Is the first response better?') "
    "changes meaning when the pair is swapped, so the two orders no longer ask the same "
    "thing and the average is meaningless. The compare template already shows the options.",
    bad='''question better {
  text = "Is the first response more helpful than the second response?"
}''',
    good='''question better { text = "Which response is more helpful?" }''',
    check=check, needs_plan=False,
)
