"""CL401 soft-labels-discarded: soft preference labels trained on as hard pairs."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.declarations import names
from constlang.errors import Fix, Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules._edits import set_value


def check(ctx: LintContext) -> Iterator[Finding]:
    for stage in ctx.stages("reward_model"):
        soft = [ctx.plan.stage(n) for n in names(stage.settings.from_)]
        soft = [s for s in soft if s.kind == "feedback" and s.settings.labels == "soft"]
        if not soft or stage.settings.soft_labels:
            continue
        feedback = soft[0]
        sym = ctx.stage_symbol(stage)
        edit = set_value(ctx, sym, "soft_labels", "true")
        yield Finding(f"feedback stage `{feedback.name}` produces soft labels, but reward model "
                      f"`{stage.name}` trains on hard pairs (`soft_labels = false`)",
                      ctx.value_span(sym, "soft_labels"),
                      "set `soft_labels = true` to train on the probabilities",
                      Fix("set `soft_labels = true`", (edit,), safe=False) if edit else None)


RULE = Rule(
    code="CL401", name="soft-labels-discarded", category="feedback", severity=Severity.WARNING,
    summary="A feedback stage that produces soft labels feeding a reward model trained on hard "
    "pairs.",
    rationale="The judge's normalised option probabilities are soft labels, and soft labels "
    "train clearly better reward models than 0/1 labels (RLAIF). A reward stage with "
    "`soft_labels = false` rounds each probability to a hard chosen/rejected pair, throwing "
    "away exactly the calibration the feedback stage paid to compute.",
    bad='''stage feedback     { policy = sft  judge = m  prompts = d  labels = soft }
stage reward_model { from = feedback  soft_labels = false }''',
    good='''stage feedback     { policy = sft  judge = m  prompts = d  labels = soft }
stage reward_model { from = feedback  soft_labels = true }''',
    check=check, fix="unsafe",
)
