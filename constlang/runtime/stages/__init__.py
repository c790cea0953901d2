"""Stage runners: one module a stage kind, each behind the StageRunner protocol, listed once."""

from __future__ import annotations

from constlang.runtime.stages.base import StageContext, StageRunner
from constlang.runtime.stages.critique_revision import CritiqueRevisionRunner
from constlang.runtime.stages.dpo import DPORunner
from constlang.runtime.stages.evaluate import EvaluateRunner
from constlang.runtime.stages.feedback import FeedbackRunner
from constlang.runtime.stages.grpo import GRPORunner
from constlang.runtime.stages.ppo import PPORunner
from constlang.runtime.stages.revision_pairs import RevisionPairsRunner
from constlang.runtime.stages.reward_model import RewardModelRunner
from constlang.runtime.stages.rloo import RLOORunner
from constlang.runtime.stages.sft import SFTRunner

RUNNERS: tuple[type[StageRunner], ...] = (CritiqueRevisionRunner, SFTRunner, FeedbackRunner,
                                          RevisionPairsRunner, RewardModelRunner, DPORunner,
                                          PPORunner, GRPORunner, RLOORunner, EvaluateRunner)

_BY_KIND = {runner.kind: runner for runner in RUNNERS}


def register_runner(runner: type[StageRunner]) -> None:
    """Add the runner of a registered stage kind (a plugin, a test fixture)."""
    global RUNNERS
    if runner.kind in _BY_KIND:
        raise ValueError(f"stage kind `{runner.kind}` already has a runner")
    RUNNERS = (*RUNNERS, runner)
    _BY_KIND[runner.kind] = runner


def runner_for(kind: str) -> type[StageRunner] | None:
    """The runner of a stage kind; None for a kind the registry lists as planned."""
    return _BY_KIND.get(kind)


__all__ = ["RUNNERS", "StageContext", "StageRunner", "register_runner",
           "runner_for"]
