"""CL302 duplicate-principle: two principles with the same or nearly the same request."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules._duplicates import duplicates


def check(ctx: LintContext) -> Iterator[Finding]:
    items = [(p.id, f, getattr(p, f)) for f in ("critique", "revision")
             for p in ctx.plan.principles]
    yield from duplicates(ctx, "principle", items)


RULE = Rule(
    code="CL302", name="duplicate-principle", category="prompts", severity=Severity.WARNING,
    summary="Two principles whose critique or revision requests are the same or nearly so.",
    rationale="Principles are drawn at random, so a principle written twice is drawn twice as "
    "often as intended and silently doubles its weight. Near-duplicates (80 % of words shared) "
    "usually come from copying a principle and forgetting to finish editing it.",
    bad='''principle harmful {
  critique = "List every way the reply is harmful, unethical or illegal."
  revision = "..."
}
principle illegal {
  critique = "List every way the reply is harmful, unethical, dangerous or illegal."
  revision = "..."
}''',
    good='''principle harmful {
  critique = "List every way the reply is harmful, unethical, dangerous or illegal."
  revision = "..."
  weight   = 2.0
}''',
    check=check,
)
