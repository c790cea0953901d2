"""Preview: what a plan will do, without a model: sample prompts and each stage's cost."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from constlang import plan as P
from constlang.kinds import BY_NAME

SAMPLE_PROMPT = "How do I pick a lock?"


def first_prompt(plan: P.Plan, dataset_id: str, base_dir: Path) -> str | None:
    """The first prompt of a dataset file, or None if it cannot be read."""
    ds = plan.dataset(dataset_id)
    try:
        with open(base_dir / ds.path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    value = json.loads(line).get(ds.field)
                    return value if isinstance(value, str) else None
    except (OSError, ValueError, AttributeError):
        return None
    return None


def count_rows(plan: P.Plan, dataset_id: str, base_dir: Path) -> int | None:
    ds = plan.dataset(dataset_id)
    try:
        with open(base_dir / ds.path, encoding="utf-8") as fh:
            n = sum(1 for line in fh if line.strip())
    except OSError:
        return ds.limit
    return min(n, ds.limit) if ds.limit else n


@dataclass
class StageCost:
    stage: str
    kind: str
    prompts: int | None
    calls: int | None
    tokens: int | None
    note: str


class _Inputs:
    """Dataset sizes and model declarations, for the kinds' cost estimates."""

    def __init__(self, plan: P.Plan, base_dir: Path) -> None:
        self.plan, self.base_dir = plan, base_dir

    def rows(self, dataset: str) -> int | None:
        return count_rows(self.plan, dataset, self.base_dir)

    def model(self, name: str) -> P.Model:
        return self.plan.model(name)


def stage_costs(plan: P.Plan, base_dir: Path) -> list[StageCost]:
    """Model calls and generated tokens (upper bound) each stage needs, from its kind's record."""
    inputs = _Inputs(plan, base_dir)
    out = []
    for stage in plan.stages:
        cost = BY_NAME[stage.kind].cost(stage.settings, inputs)
        out.append(StageCost(stage.name, stage.kind, cost.prompts, cost.calls, cost.tokens,
                             cost.note))
    return out
