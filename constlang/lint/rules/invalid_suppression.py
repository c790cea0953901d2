"""CL902 invalid-suppression: a suppression comment without codes or with unknown ones."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule


def check(ctx: LintContext) -> Iterator[Finding]:
    for s in ctx.suppressions:
        span = ctx.source.span(s.comment.start, s.comment.end)
        if not s.codes:
            yield Finding("suppression comment names no code", span,
                          "name what it suppresses, e.g. `# constlang: ignore[CL304]`")
            continue
        for code in s.codes:
            if ctx.known(code):
                continue
            if code.startswith("E"):
                msg = f"compiler error {code} cannot be suppressed"
                help_ = "fix the error; only lint findings and compiler warnings can be ignored"
            else:
                msg = f"suppression names unknown code `{code}`"
                help_ = "`constlang rule --all` lists the codes"
            yield Finding(msg, span, help_)


RULE = Rule(
    code="CL902", name="invalid-suppression", category="suppression", severity=Severity.WARNING,
    summary="A suppression comment with no code, an unknown code, or a compiler error code.",
    rationale="A blanket `# constlang: ignore` would hide every present and future finding "
    "on its line, and a misspelt code hides nothing while looking as if it did. Compiler "
    "errors cannot be suppressed: a file with errors has no plan to run.",
    bad='''principle harmful {  # constlang: ignore[CL34]
  critique = "..."  revision = "..."
}''',
    good='''principle harmful {  # constlang: ignore[CL304]
  critique = "..."  revision = "..."
}''',
    check=check, needs_plan=False, after_suppression=True,
)
