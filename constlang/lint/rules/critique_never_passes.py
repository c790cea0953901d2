"""CL305 critique-never-passes: with skip_when_no_critique, a critique request that never
offers the "no critique needed" answer."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Edit, Fix, Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.text import quote
from constlang.syntax import ast


def _taught_elsewhere(ctx: LintContext, stage: object, marker: str) -> bool:
    """The marker appears in the critique template, or in an example that template shows."""
    program = ctx.plan.program(stage.name)  # type: ignore[attr-defined]
    step = next((s for s in program.steps if s.name == "critique"), None)
    if step is None:
        return True
    if marker in step.source.lower():
        return True
    # examples reach the critique step either through the template or as chat turns
    chosen = set(stage.settings.examples)  # type: ignore[attr-defined]
    return any(marker in e.critique.lower() for e in ctx.plan.examples if e.id in chosen)


def check(ctx: LintContext) -> Iterator[Finding]:
    reported: set[str] = set()
    for stage in ctx.stages("critique_revision"):
        s = stage.settings
        marker = s.no_critique_marker.strip().lower()
        if not s.skip_when_no_critique or not marker or _taught_elsewhere(ctx, stage, marker):
            continue
        for name in s.principles:
            sym = ctx.symbol("principle", name)
            f = ctx.field(sym, "critique") if sym else None
            if f is None or not ctx.in_file(f.value.span) or name in reported or \
                    not isinstance(f.value, ast.Str) or marker in f.value.value.lower() or \
                    not f.value.value.strip():  # an empty request is CL301's
                continue
            reported.add(name)
            fix = None
            if not f.value.long:
                text = f' If nothing needs to change, answer "{s.no_critique_marker}".'
                fix = Fix(f'ask for "{s.no_critique_marker}" when nothing needs to change',
                          (Edit(f.value.span.end - 1, f.value.span.end - 1, quote(text)),),
                          safe=False)
            yield Finding(
                f"stage `{stage.name}` skips the revision when the critique says "
                f"\"{s.no_critique_marker}\", but the critique request of principle `{name}` "
                "never offers that answer", f.value.span,
                f"say when to answer \"{s.no_critique_marker}\", in the request, the critique "
                "template or a few-shot example", fix)


RULE = Rule(
    code="CL305", name="critique-never-passes", category="prompts", severity=Severity.WARNING,
    summary="A critique request that cannot produce 'no critique needed' when its stage skips "
    "on it.",
    rationale="With `skip_when_no_critique = true` the runtime skips the revision only when "
    "the critique contains the stage's `no_critique_marker`. A request such as 'Point out "
    "every way the reply is harmful' presumes there is something to point out and never "
    "tells the model the phrase, so the marker never appears, nothing is skipped, and "
    "harmless replies are rewritten anyway. Say the phrase in the request, the critique "
    "template, or a few-shot example's critique.",
    bad='''principle harmful {
  critique = "Point out every way the reply is harmful."
  revision = "Rewrite the reply without the harm."
}
stage critique_revision { model = m  prompts = d  examples = []  skip_when_no_critique = true }''',
    good='''principle harmful {
  critique = """
    Point out every way the reply is harmful.
    If it is not harmful, answer "no critique needed".
  """
  revision = "Rewrite the reply without the harm."
}
stage critique_revision { model = m  prompts = d  examples = []  skip_when_no_critique = true }''',
    check=check, fix="unsafe",
)
