"""PPO, rewards: each rollout's reward, reward_weight × the reward model's score plus the
stage's check rewards, and the figures an update logs about them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from constlang.runtime.check_rewards import MODEL_KEY, CheckRewards, mean

if TYPE_CHECKING:
    from constlang.runtime.ppo.actors import Rewarder


class Tagged(Protocol):
    """A rollout prompt as rewards read it (rollout.Query): the plain prompt and its tags."""

    @property
    def prompt(self) -> str: ...

    @property
    def tags(self) -> tuple[str, ...]: ...


class RolloutRewards:
    """The reward of a rollout: `weight` × the reward model's score (when there is one) plus
    the check rewards (when the stage has checks) for the checks that apply to its prompt."""

    def __init__(self, model: Rewarder | None, checks: CheckRewards | None,
                 weight: float = 1.0) -> None:
        if model is None and checks is None:
            raise ValueError("a PPO reward needs a reward model, checks, or both")
        self.model, self.checks, self.weight = model, checks, weight

    def score(self, prompts: Sequence[str], replies: Sequence[str]) -> list[float]:
        """The rewards of replies to untagged prompts (the plain Rewarder interface)."""
        return self.rewards(prompts, replies, [()] * len(replies))[0]

    def rewards(self, prompts: Sequence[str], replies: Sequence[str],
                tags: Sequence[Sequence[str]]) -> tuple[list[float], dict[str, float]]:
        """(each reply's summed reward, the batch's figures: the reward model's mean score,
        the mean check reward, each applicable check's pass rate)."""
        total = [0.0] * len(replies)
        figures: dict[str, float] = {}
        if self.model is not None:
            scores = self.model.score(prompts, replies)
            figures[MODEL_KEY] = mean(scores)
            total = [self.weight * s for s in scores]
        if self.checks is not None:
            found, check_figures = self.checks.score(prompts, replies, tags)
            figures.update(check_figures)
            total = [t + c for t, c in zip(total, found, strict=True)]
        return total, figures


def score_rollouts(scorer: Any, queries: Sequence[Tagged],
                   replies: Sequence[str]) -> tuple[list[float], dict[str, float]]:
    """(rewards, figures) of replies to `queries`: a RolloutRewards reads each query's tags; a
    plain Rewarder (a reward model's scorer, a test's function) gives its scores as they are."""
    prompts = [q.prompt for q in queries]
    if isinstance(scorer, RolloutRewards):
        return scorer.rewards(prompts, replies, [q.tags for q in queries])
    return scorer.score(prompts, replies), {}
