"""CL603 duplicate-tag: a tag listed twice on one declaration."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Edit, Fix, Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules.tag_format import tags


def check(ctx: LintContext) -> Iterator[Finding]:
    for decl, items in tags(ctx):
        seen: set[str] = set()
        for i, s in enumerate(items):
            if s.value not in seen:
                seen.add(s.value)
                continue
            # delete from the end of the previous item, taking the comma with it
            fix = Fix(f'remove the second "{s.value}"',
                      (Edit(items[i - 1].span.end, s.span.end, ""),))
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
