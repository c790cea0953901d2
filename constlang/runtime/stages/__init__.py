"""Stage runners: one module a stage kind, each behind the StageRunner protocol, listed once.

A kind's runner module holds its runner, the layout of its folder (a StageDir subclass with an
`Artifact` per file it writes), its summary headline and the figures evaluate draws from it;
adding a kind here is that module and one line in `RUNNERS` (with its import)."""

from __future__ import annotations

from constlang.runtime.stages.base import (
    BY_KIND,
    StageContext,
    StageRunner,
    runner_for,
)
from constlang.runtime.stages.best_of_n import BestOfNRunner
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

RUNNERS: tuple[type[StageRunner], ...] = (
    CritiqueRevisionRunner,
    SFTRunner,
    FeedbackRunner,
    RevisionPairsRunner,
    BestOfNRunner,
    RewardModelRunner,
    DPORunner,
    PPORunner,
    GRPORunner,
    RLOORunner,
    EvaluateRunner,
)

BY_KIND.update({runner.kind: runner for runner in RUNNERS})


def register_runner(runner: type[StageRunner]) -> None:
    """Add the runner of a registered stage kind (a plugin, a test fixture)."""
    global RUNNERS
    if runner.kind in BY_KIND:
        raise ValueError(f"stage kind `{runner.kind}` already has a runner")
    RUNNERS = (*RUNNERS, runner)
    BY_KIND[runner.kind] = runner


__all__ = ["RUNNERS", "StageContext", "StageRunner", "register_runner",
           "runner_for"]
