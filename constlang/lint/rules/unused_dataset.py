"""CL107 unused-dataset: a dataset no stage reads."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.lint.rules._unused import unused


def check(ctx: LintContext) -> Iterator[Finding]:
    return unused(ctx, "dataset", "read",
                  "use it as a stage's `prompts`, or remove it")


RULE = Rule(
    code="CL107", name="unused-dataset", category="unused", severity=Severity.WARNING,
    summary="A dataset that no stage reads its prompts from.",
    rationale="Red-team and helpfulness prompt sets are declared to be used; one that no stage "
    "reads usually means a stage still points at another set (for example, PPO rolling out "
    "on the red-team prompts only, when a benign set was meant to balance it).",
    bad='''dataset benign { path = "data/benign.jsonl" }
stage ppo { policy = sft  reward = reward_model  prompts = red_team }''',
    good='''dataset benign { path = "data/benign.jsonl" }
stage ppo { policy = sft  reward = reward_model  prompts = benign }''',
    check=check,
)
