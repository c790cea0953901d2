"""Stage kinds as data: every kind's record, in plan order, listed once.

Read `KINDS` top to bottom like a table of contents. An in-tree kind is one module here (its
settings class, its cost estimate and `KIND`, its record) and one line in `KINDS` (with its
import); its runner is one module in `constlang.runtime.stages` and one line in `RUNNERS` there.
Everything that varies by stage kind derives from `KINDS`: the plan's stage classes, the
checker's reference and selection rules, the prompt programs, the cost estimates of `plan` and
`--dry-run`, and the runtime's dispatch. The record's vocabulary is in `record.py`.
"""

from __future__ import annotations

import sys

from constlang.declarations import Strict
from constlang.kinds import (
    best_of_n,
    critique_revision,
    dpo,
    evaluate,
    feedback,
    grpo,
    ppo,
    revision_pairs,
    reward_model,
    rloo,
    sft,
)
from constlang.kinds._steps import POLICY_KINDS
from constlang.kinds.record import Cost, CostEstimate, CostInputs, StageKind, StepSpec, When

KINDS: tuple[StageKind, ...] = (
    critique_revision.KIND,
    sft.KIND,
    feedback.KIND,
    revision_pairs.KIND,
    best_of_n.KIND,
    reward_model.KIND,
    ppo.KIND,
    dpo.KIND,
    grpo.KIND,
    rloo.KIND,
    evaluate.KIND,
)

BY_NAME: dict[str, StageKind] = {k.name: k for k in KINDS}
SETTINGS_BY_KIND: dict[str, type[Strict]] = {k.name: k.settings for k in KINDS}


def kind(name: str) -> StageKind:
    """The record of a stage kind; KeyError for an unknown name."""
    return BY_NAME[name]


def register(record: StageKind) -> None:
    """Add a stage kind (a plugin, a test fixture): the one record a new kind needs on the
    language side. Must run before `constlang.plan` is imported, which builds the plan's stage
    classes from the registry."""
    global KINDS
    if "constlang.plan" in sys.modules:
        raise RuntimeError("register stage kinds before constlang.plan is imported")
    if record.name in BY_NAME:
        raise ValueError(f"stage kind `{record.name}` is already registered")
    KINDS = (*KINDS, record)
    BY_NAME[record.name] = record
    SETTINGS_BY_KIND[record.name] = record.settings


__all__ = ["BY_NAME", "KINDS", "POLICY_KINDS", "SETTINGS_BY_KIND", "Cost", "CostEstimate",
           "CostInputs", "StageKind", "StepSpec", "When", "kind", "register"]
