"""GRPO stage: the policy samples a group of completions per prompt and learns from each one's
reward against its group's mean (TRL's GRPOTrainer); the reward is a reward_model stage's score
or a judge's probability of a good answer."""

from __future__ import annotations

from typing import Any

from constlang.runtime.stages._group import GroupRunner


class GRPORunner(GroupRunner):
    """Runs a grpo stage."""

    kind = "grpo"
    label = "GRPO"
    trainer_name = "GRPOTrainer"

    def own_config(self) -> dict[str, Any]:
        s = self.ctx.settings
        return {"loss_type": s.loss, "scale_rewards": s.scale_rewards}
