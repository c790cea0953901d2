"""CL503 ppo-minibatch-mismatch: PPO mini-batches that do not divide the batch."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule


def check(ctx: LintContext) -> Iterator[Finding]:
    for stage in ctx.stages("ppo"):
        s = stage.settings
        span = ctx.value_span(ctx.stage_symbol(stage), "mini_batch_size")
        if s.mini_batch_size > s.batch_size:
            yield Finding(f"PPO stage `{stage.name}` has `mini_batch_size = {s.mini_batch_size}`"
                          f", larger than its `batch_size = {s.batch_size}`", span,
                          "a mini-batch is a slice of the batch; make it smaller")
        elif s.batch_size % s.mini_batch_size:
            yield Finding(f"`mini_batch_size = {s.mini_batch_size}` does not divide "
                          f"`batch_size = {s.batch_size}` in PPO stage `{stage.name}`", span,
                          "choose a divisor, so that every rollout is trained on equally")


RULE = Rule(
    code="CL503", name="ppo-minibatch-mismatch", category="training", severity=Severity.WARNING,
    summary="A PPO mini-batch size larger than the batch, or not a divisor of it.",
    rationale="Each PPO update splits its batch of rollouts into mini-batches. A mini-batch "
    "larger than the batch cannot be filled, and one that does not divide it leaves a short "
    "last mini-batch whose rollouts get a noisier, differently scaled gradient.",
    bad='''stage ppo {
  policy = sft  reward = reward_model  prompts = d
  batch_size = 8  mini_batch_size = 3
}''',
    good='''stage ppo {
  policy = sft  reward = reward_model  prompts = d
  batch_size = 8  mini_batch_size = 4
}''',
    check=check,
)
