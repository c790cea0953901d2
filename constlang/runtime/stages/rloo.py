"""RLOO stage: the policy samples a group of completions per prompt and learns from each one's
reward against the mean of the others of its group (REINFORCE leave-one-out, TRL's
RLOOTrainer); the reward is a reward_model stage's score or a judge's probability of a good
answer."""

from __future__ import annotations

from typing import Any

from constlang.runtime.stages._group import GroupRunner


class RLOORunner(GroupRunner):
    """Runs an rloo stage."""

    kind = "rloo"
    label = "RLOO"
    trainer_name = "RLOOTrainer"

    def own_config(self) -> dict[str, Any]:
        return {"normalize_advantages": self.ctx.settings.normalize_advantages}
