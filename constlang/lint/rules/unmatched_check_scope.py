"""CL701 unmatched-check-scope: a check scoped to tags that no dataset declares."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Edit, Fix, Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.semantics.resolve import Symbol
from constlang.suggest import NameIndex
from constlang.syntax import ast


def tag_items(ctx: LintContext, sym: Symbol) -> dict[str, ast.Str]:
    """The string items of a check's `applies_to`, by value, as written in this file."""
    f = ctx.field(sym, "applies_to")
    if f is None or not ctx.in_file(f.value.span):
        return {}
    items = f.value.items if isinstance(f.value, ast.List) else (f.value,)
    return {v.value: v for v in items if isinstance(v, ast.Str)}


def check(ctx: LintContext) -> Iterator[Finding]:
    datasets = ctx.plan.datasets
    # a dataset without declared tags may tag its rows one by one: nothing can be known
    if not datasets or any(not d.tags for d in datasets):
        return
    declared = sorted({t for d in datasets for t in d.tags})
    index = NameIndex(declared)
    for sym in ctx.local_symbols("check"):
        written = tag_items(ctx, sym)
        for tag, item in written.items():
            if tag in declared:
                continue
            near = index.suggest(tag)
            help_ = (f'did you mean "{near}"?' if near else
                     "tag a dataset with it (`tags = [...]`), or fix the check's `applies_to`")
            help_ += f"; dataset tags: {', '.join(declared)}"
            fix = None
            if near:
                fix = Fix(f'replace "{tag}" with "{near}"',
                          (Edit(item.span.start, item.span.end, f'"{near}"'),), safe=False)
            yield Finding(f'check `{sym.name}` applies to tag "{tag}", which no dataset '
                          "declares", item.span, help_, fix)


RULE = Rule(
    code="CL701", name="unmatched-check-scope", category="checks", severity=Severity.WARNING,
    summary="A check whose `applies_to` names a tag that no dataset declares.",
    rationale="A check applies to a reply when its prompt carries one of the check's tags. "
    "A tag no dataset declares is usually misspelt, and the check then silently never runs "
    "on those prompts. Rows may add their own `tags`, which lint cannot know without reading "
    "the files: the rule considers declared dataset tags only, and stays quiet when any "
    "dataset declares none (its rows may be tagged one by one).",
    bad='''check declines { checker = refusal  expect = decline  applies_to = ["harmfull"] }
dataset d { path = "prompts.jsonl"  tags = ["harmful"] }''',
    good='''check declines { checker = refusal  expect = decline  applies_to = ["harmful"] }
dataset d { path = "prompts.jsonl"  tags = ["harmful"] }''',
    check=check, fix="unsafe",
)
