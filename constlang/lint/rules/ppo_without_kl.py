"""CL502 ppo-without-kl: an RL stage (ppo, grpo, rloo) with no KL penalty to its reference."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule

# stage kind → the setting that weighs its KL penalty
KL_SETTING = {"ppo": "kl_coef", "grpo": "beta", "rloo": "beta"}


def check(ctx: LintContext) -> Iterator[Finding]:
    for kind, setting in KL_SETTING.items():
        for stage in ctx.stages(kind):
            if getattr(stage.settings, setting) == 0:
                yield Finding(f"{kind.upper()} stage `{stage.name}` has `{setting} = 0`: nothing "
                              "keeps the policy near its reference",
                              ctx.value_span(ctx.stage_symbol(stage), setting),
                              "use a small positive coefficient such as 0.05")


RULE = Rule(
    code="CL502", name="ppo-without-kl", category="training", severity=Severity.WARNING,
    summary="An RL stage (ppo, grpo, rloo) whose KL penalty to the reference model is 0.",
    rationale="The reward model is trained on a narrow distribution of replies; a policy "
    "optimised against it without the KL penalty drifts to text that scores high and reads "
    "badly (reward hacking), and forgets what SFT taught it. RLHF and Constitutional AI both "
    "keep the penalty; for grpo and rloo it is `beta`.",
    bad='''stage ppo { policy = sft  reward = reward_model  prompts = d  kl_coef = 0 }''',
    good='''stage ppo { policy = sft  reward = reward_model  prompts = d  kl_coef = 0.05 }''',
    check=check,
)
