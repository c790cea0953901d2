"""CL502 ppo-without-kl: a PPO stage with no KL penalty to its reference model."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule


def check(ctx: LintContext) -> Iterator[Finding]:
    for stage in ctx.stages("ppo"):
        if stage.settings.kl_coef == 0:
            yield Finding(f"PPO stage `{stage.name}` has `kl_coef = 0`: nothing keeps the "
                          "policy near its reference", ctx.value_span(ctx.stage_symbol(stage),
                                                                      "kl_coef"),
                          "use a small positive coefficient such as 0.05")


RULE = Rule(
    code="CL502", name="ppo-without-kl", category="training", severity=Severity.WARNING,
    summary="A PPO stage whose KL penalty to the reference model is 0.",
    rationale="The reward model is trained on a narrow distribution of replies; a policy "
    "optimised against it without the KL penalty drifts to text that scores high and reads "
    "badly (reward hacking), and forgets what SFT taught it. RLHF and Constitutional AI both "
    "keep the penalty.",
    bad='''stage ppo { policy = sft  reward = reward_model  prompts = d  kl_coef = 0 }''',
    good='''stage ppo { policy = sft  reward = reward_model  prompts = d  kl_coef = 0.05 }''',
    check=check,
)
