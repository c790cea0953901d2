"""CL604 invalid-version: a constitution version that is not semantic versioning."""

from __future__ import annotations

import re
from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.syntax import ast

SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?")


def check(ctx: LintContext) -> Iterator[Finding]:
    for c in ctx.module.of(ast.Constitution):
        for f in c.fields:
            if f.name == "version" and isinstance(f.value, ast.Str) and \
                    not SEMVER.fullmatch(f.value.value):
                yield Finding(f"version \"{f.value.value}\" is not MAJOR.MINOR.PATCH",
                              f.value.span, "write it as semantic versioning, e.g. \"0.1.0\"")


RULE = Rule(
    code="CL604", name="invalid-version", category="naming", severity=Severity.WARNING,
    summary="A constitution version that is not semantic versioning (MAJOR.MINOR.PATCH).",
    rationale="The version travels into the plan and from there into every checkpoint's "
    "metadata; comparing \"v2\", \"2.0\" and \"2.0.0\" is guesswork. Semantic versioning "
    "says whether a change can alter training (a new principle) or only wording.",
    bad='''constitution "cai-harmless" { version = "v2" }''',
    good='''constitution "cai-harmless" { version = "2.0.0" }''',
    check=check, needs_plan=False,
)
