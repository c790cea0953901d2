"""CL901 unused-suppression: a `# constlang: ignore[...]` that suppresses nothing."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Edit, Fix, Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.suppress import Suppression


def _removal(ctx: LintContext, s: Suppression, keep: list[str]) -> Edit:
    c = s.comment
    text = ctx.source.text
    if keep and s.codes_span is not None:
        return Edit(*s.codes_span, ", ".join(keep))
    if c.own_line:  # the whole line goes
        start = text.rfind("\n", 0, c.start) + 1
        end = c.end + 1 if c.end < len(text) else c.end
        return Edit(start, end, "")
    start = c.start
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    return Edit(start, c.end, "")


def check(ctx: LintContext) -> Iterator[Finding]:
    for s in ctx.suppressions:
        valid = [c for c in s.codes if ctx.known(c)]
        # a rule that could not run (the file does not compile) may still need its suppression
        unused = [c for c in valid if c not in s.used and c not in ctx.not_run]
        if not unused or len(valid) != len(s.codes):
            continue  # nothing unused, or invalid-suppression reports the comment
        keep = [c for c in s.codes if c not in unused]
        disabled = [c for c in unused if c not in ctx.enabled]
        why = " (not enabled)" if disabled == unused else ""
        span = ctx.source.span(s.comment.start, s.comment.end)
        yield Finding(f"suppression of {', '.join(unused)} suppresses nothing{why}", span,
                      "remove it" if not keep else f"keep only {', '.join(keep)}",
                      Fix("remove the unused code" + ("s" if len(unused) > 1 else ""),
                          (_removal(ctx, s, keep),),
                          # removing the whole comment would drop the reason written after it
                          safe=bool(keep) or not s.reason))


RULE = Rule(
    code="CL901", name="unused-suppression", category="suppression", severity=Severity.WARNING,
    summary="An inline suppression comment that suppresses no finding.",
    rationale="Suppressions outlive the problems they silenced: the text is fixed, the rule "
    "changes, the comment stays and will hide the next real finding on that line. Removing "
    "unused ones keeps every suppression meaningful.",
    bad='''principle harmful {  # constlang: ignore[CL304]
  critique = "Point out anything harmful."
  revision = "Rewrite the reply without the harm, and keep helping."
}''',
    good='''principle harmful {
  critique = "Point out anything harmful."
  revision = "Rewrite the reply without the harm, and keep helping."
}''',
    check=check, fix="safe", needs_plan=False, after_suppression=True,
)
