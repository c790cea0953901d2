"""CL603 duplicate-tag: a tag listed twice on one declaration."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Fix, Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules._edits import remove_item
from constlang.lint.rules.tag_format import tags
from constlang.syntax import ast


def check(ctx: LintContext) -> Iterator[Finding]:
    for decl, _ in tags(ctx):
        listed = decl.field("tags")
        assert listed is not None and isinstance(listed.value, ast.List)
        every = listed.value.items  # strings and anything else, in order
        spans = [(v.span.start, v.span.end) for v in every]
        seen: set[str] = set()
        for i, s in enumerate(every):
            if not isinstance(s, ast.Str) or s.value not in seen:
                if isinstance(s, ast.Str):
                    seen.add(s.value)
                continue
            # the item and one comma go; comments between the items stay
            edits = remove_item(ctx.source.text, spans, i, listed.value.span.end - 1)
            fix = Fix(f'remove the second "{s.value}"', edits)
            yield Finding(f'tag "{s.value}" is listed twice on {decl.kind} `{decl.name}`', s.span,
                          "remove the repeat", fix)


RULE = Rule(
    code="CL603", name="duplicate-tag", category="naming", severity=Severity.WARNING,
    summary="The same tag listed twice on one principle or question.",
    rationale="A repeated tag has no meaning of its own; it is usually a copy-paste slip, and "
    "tools that count tags count it twice.",
    bad='''principle harmful { critique = "..."  revision = "..."  tags = ["harm", "harm"] }''',
    good='''principle harmful { critique = "..."  revision = "..."  tags = ["harm"] }''',
    check=check, fix="safe", needs_plan=False,
)
