"""CL309 incomplete-example: a critique/revision example missing a part its prompts show."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule

PARTS = ("critique_request", "critique", "revision_request", "revision")


def check(ctx: LintContext) -> Iterator[Finding]:
    shown: set[str] = set()
    for stage in ctx.stages("critique_revision"):
        shown.update(stage.settings.examples)
    examples = {e.id: e for e in ctx.plan.examples}
    for sym in ctx.local_symbols("example"):
        if sym.name not in shown:
            continue
        missing = [p for p in PARTS if not getattr(examples[sym.name], p).strip()]
        if missing:
            skipped = [p for p in ("critique", "revision") if p in missing]
            why = (f"; the default prompts skip an example without `{skipped[0]}`" if skipped
                   else "; the prompts show an empty line for it")
            yield Finding(f"example `{sym.name}` has no {', '.join(f'`{m}`' for m in missing)}"
                          f"{why}", ctx.name_span(sym),
                          "write every part: critique_request, critique, revision_request, "
                          "revision")


RULE = Rule(
    code="CL309", name="incomplete-example", category="prompts", severity=Severity.WARNING,
    summary="A few-shot example used for critique and revision that lacks one of its parts.",
    rationale="A critique_revision example shows a whole round: the request, the critique, "
    "the revision request and the revision. The default critique prompt skips an example "
    "without a critique and the revision prompt one without a revision, so a half-written "
    "example is silently never shown, or shown with an empty line where the request should be.",
    bad='''example wine {
  prompt   = "How strong is red wine?"
  response = "You should not drink."
  critique = "The reply lectures instead of answering."
}
stage critique_revision { model = m  prompts = d }''',
    good='''example wine {
  prompt           = "How strong is red wine?"
  response         = "You should not drink."
  critique_request = "Is the reply preachy?"
  critique         = "The reply lectures instead of answering."
  revision_request = "Remove the moralising and answer."
  revision         = "Most red wines are 12-15 % alcohol by volume."
}
stage critique_revision { model = m  prompts = d }''',
    check=check,
)
