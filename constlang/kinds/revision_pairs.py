"""Stage kind revision_pairs: its settings, its cost estimate and its record."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from constlang.declarations import Strict, ref
from constlang.kinds.record import Cost, CostInputs, StageKind


class RevisionPairsSettings(Strict):
    from_: str = ref("stage", "The critique_revision stage whose answers and revisions are paired.",
                     alias="from")
    use_dropped: bool = Field(
        False, description="Also pair revisions the stage dropped from its SFT data (truncated, "
        "unchanged, meta, worse); never one that failed its checks (while the stage's "
        "`drop_failing_checks` is on).")
    weights: Literal["none", "judge"] = Field(
        "none", description="none: p_chosen is 1; judge: the critique_revision stage's judge "
        "scores give p_chosen = σ(log-odds of the revision − log-odds of the first answer), and "
        "a pair the judge scores below 0.5 is dropped as worse.")


def cost(s: RevisionPairsSettings, inputs: CostInputs) -> Cost:
    """No model calls: the pairs are the upstream stage's rows."""
    return Cost(None, 0, 0, "no model calls: pairs written from the upstream rows")


KIND = StageKind(
    "revision_pairs", RevisionPairsSettings,
    "Preference pairs without a judge: each prompt's final revision over its first answer.",
    "runtime-revision-pairs.md", cost,
    stage_refs={"from": ("critique_revision",)}, base_model="from")
