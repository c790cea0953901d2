"""CL602 tag-format: a tag that is not lower-case kebab-case."""

from __future__ import annotations

import re
from collections.abc import Iterator

from constlang.errors import Edit, Fix, Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.syntax import ast

KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def kebab(tag: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", tag.lower()))


def tags(ctx: LintContext) -> Iterator[tuple[ast.Declaration, list[ast.Str]]]:
    """Each declaration of this file with the string items of its `tags` list."""
    for kind in ("principle", "question"):
        for decl in ctx.declarations(kind):
            f = decl.field("tags")
            if f is not None and isinstance(f.value, ast.List):
                yield decl, [v for v in f.value.items if isinstance(v, ast.Str)]


def check(ctx: LintContext) -> Iterator[Finding]:
    for decl, items in tags(ctx):
        present = {s.value for s in items}
        for s in items:
            if KEBAB.fullmatch(s.value):
                continue
            better = kebab(s.value)
            # renaming onto a tag the list already has would create a duplicate (CL603)
            fix = Fix(f'use "{better}"', (Edit(s.span.start, s.span.end, f'"{better}"'),),
                      safe=False) if better and better not in present else None
            present.add(better or s.value)
            yield Finding(f'tag "{s.value}" of {decl.kind} `{decl.name}` is not lower-case '
                          "kebab-case", s.span, f'write "{better}"' if better else None, fix)


RULE = Rule(
    code="CL602", name="tag-format", category="naming", severity=Severity.WARNING,
    summary="A principle or question tag that is not lower-case kebab-case.",
    rationale="Tags group principles and questions for selection and for reports; \"Harm\", "
    "\"harm \" and \"harm\" are three different tags to a program. One spelling (lower-case "
    "words joined by hyphens) keeps a group together.",
    bad='''principle harmful {
  critique = "..."  revision = "..."
  tags = ["Harm", "anti preachy"]
}''',
    good='''principle harmful {
  critique = "..."  revision = "..."
  tags = ["harm", "anti-preachy"]
}''',
    check=check, fix="unsafe", needs_plan=False,
)
