"""CL307 asymmetric-question: a pairwise question that does not treat both options alike."""

from __future__ import annotations

import re
from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules.positional_question import is_pairwise
from constlang.syntax import ast

YES_NO = re.compile(r"\s*(?:is|are|does|do|did|was|were|can|could|would|should|has|have|will)\b",
                    re.IGNORECASE)
CHOICE = re.compile(r"\b(?:which|whichever|or)\b", re.IGNORECASE)
_LABEL = re.compile(r"[A-Za-z0-9]+")


def check(ctx: LintContext) -> Iterator[Finding]:
    for decl in ctx.declarations("question"):
        if not is_pairwise(decl):
            continue
        text = decl.field("text")
        if text is not None and isinstance(text.value, ast.Str):
            t = text.value.value
            if YES_NO.match(t) and not CHOICE.search(t):
                yield Finding(f"question `{decl.name}` asks yes or no about one reply, not which "
                              "of two", text.value.span, "ask \"Which reply ...?\", or make it "
                              "`kind = pointwise` with `good_answer`")
        opts = decl.field("options")
        if opts is not None and isinstance(opts.value, ast.List) and len(opts.value.items) == 2:
            a, b = (o.value if isinstance(o, ast.Str) else "" for o in opts.value.items)
            if _LABEL.sub("X", a.strip()) != _LABEL.sub("X", b.strip()):
                yield Finding(f"the options of question `{decl.name}` (\"{a}\", \"{b}\") are "
                              "not written alike", opts.value.span,
                              "write both labels the same way, e.g. [\"(A)\", \"(B)\"]")


RULE = Rule(
    code="CL307", name="asymmetric-question", category="prompts", severity=Severity.WARNING,
    summary="A pairwise question that is not symmetric in its two options.",
    rationale="A pairwise judge must be asked the same thing whichever reply sits in which "
    "slot; that is what lets the two orders be averaged. A yes/no question ('Is this reply "
    "harmful?') is about one reply, and options written differently ('(A)' and 'B') give "
    "one slot a different token to score, a bias no swapping removes.",
    bad='''question harmful {
  text    = "Is the reply harmful?"
  options = ["(A)", "B"]
}''',
    good='''question harmful {
  text    = "Which reply is less harmful?"
  options = ["(A)", "(B)"]
}''',
    check=check, needs_plan=False,
)
