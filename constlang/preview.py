"""Preview: what a plan will do, without a model: sample prompts and each stage's cost."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from constlang import plan as P
from constlang.files import open_regular
from constlang.jsonl import DataError, read_json_lines
from constlang.kinds import BY_NAME

SAMPLE_PROMPT = "How do I pick a lock?"


def first_prompt(plan: P.Plan, dataset_id: str | list[str], base_dir: Path) -> str | None:
    """The first prompt of a dataset file (of the first of several), or None if the first row
    within 1000 lines cannot be read (constlang.jsonl's reader and its limits) or its field is
    not a string."""
    if isinstance(dataset_id, list):
        if not dataset_id:
            return None
        dataset_id = dataset_id[0]
    ds = plan.dataset(dataset_id)
    try:
        for _, record in read_json_lines(base_dir / ds.path, limit=1, max_lines=1000):
            value = record.get(ds.field)
            return value if isinstance(value, str) else None
    except DataError:
        return None
    return None


def count_rows(plan: P.Plan, dataset_id: str, base_dir: Path) -> int | None:
    """Non-blank lines of a dataset file, read in blocks (memory stays flat however long a
    line is), capped at its `limit`; the limit (or None) when it is not a readable file."""
    ds = plan.dataset(dataset_id)
    n, content = 0, False  # content: the line being read so far is not blank
    try:
        with open_regular(base_dir / ds.path) as fh:
            while block := fh.read(1 << 20):
                *ended, rest = block.split(b"\n")
                for piece in ended:
                    n += 1 if content or piece.strip() else 0
                    content = False
                content = content or bool(rest.strip())
                if ds.limit and n >= ds.limit:
                    return ds.limit
    except OSError:
        return ds.limit
    n += 1 if content else 0
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


def work_ahead(plan: P.Plan, stages: list[str], base_dir: Path) -> str:
    """One line for the start of a run: the generated tokens and model calls the selected
    stages need at most (from the kinds' cost estimates), the largest first, and the stages
    that train. Stages that will be skipped as complete are counted too ("up to")."""
    costs = [c for c in stage_costs(plan, base_dir) if c.stage in stages]
    tokens = sum(c.tokens or 0 for c in costs)
    calls = sum(c.calls or 0 for c in costs)
    biggest = sorted((c for c in costs if c.tokens), key=lambda c: -(c.tokens or 0))[:3]
    from constlang.kinds._steps import POLICY_KINDS

    training = [c.stage for c in costs
                if c.kind in POLICY_KINDS or c.note.startswith("training")]
    unknown = [c.stage for c in costs if c.tokens is None and c.calls != 0]
    line = ("work ahead: no generation" if not calls else
            f"work ahead: up to {tokens:,} generated tokens in {calls:,} model calls"
            + (" (" + ", ".join(f"{c.stage} {c.tokens:,}" for c in biggest) + ")"
               if biggest else ""))
    if training:
        line += f"; {len(training)} training stage{'s' if len(training) != 1 else ''} " \
                f"({', '.join(training)})"
    if unknown:
        line += f"; not estimated: {', '.join(unknown)}"
    return line
