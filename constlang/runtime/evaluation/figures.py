"""Evaluate stage, the figures: one record per report row, as report.json and the manifest hold it.

`refusals.py` and `winrates.py` compute the smallest records, `report.py` builds the rest from
the replies and verdicts; the Markdown and text tables, the frontier plot, the manifest's
metrics, the summary headline and `constlang eval` all read these records. The field order is
report.json's key order, so a report written, read back and written again is the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from constlang.files import read_own
from constlang.runtime.hashing import RunDirError

SetName = Literal["harmful", "benign"]
Axis = Literal["harmlessness", "helpfulness"]
# each prompt set and the axis its win rate measures
AXES: dict[SetName, Axis] = {"harmful": "harmlessness", "benign": "helpfulness"}
REPORT_LIMIT = 16 * 1024 * 1024  # bytes; a report holds a few figures per model
Interval = tuple[float, float]  # a rate's 95 % interval (Wilson), `intervals.wilson`


class Record(BaseModel):
    """A record of figures: strict, frozen, no unknown keys (a damaged report is rejected)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def _without_absent_intervals(data: dict[str, Any]) -> dict[str, Any]:
    """A rate's `_ci` key is written only when it has an interval: reports written before the
    intervals had none and read back, they write the same bytes again (report.json)."""
    return {k: v for k, v in data.items() if not (k.endswith("_ci") and v is None)}


class Refusals(Record):
    """The refusal detector's verdicts on one set of replies: each verdict's count, `n`, and
    `refusal_rate`, the share that declines (refusals and redirects together), with
    `redirect_rate` and `bare_refusal_rate` its two parts (0.0 without replies)."""

    refusal: int
    redirect: int
    comply: int
    empty: int
    n: int
    refusal_rate: float
    redirect_rate: float
    bare_refusal_rate: float


class SetFigures(Refusals):
    """One model on one prompt set: its verdicts, how its replies ended, and their reward."""

    eos_rate: float  # the share of replies that ended with the end-of-sequence token
    mean_tokens: float  # reply length, in tokens
    reward_mean: float | None  # the reward model's mean score; None without a reward stage
    # each rate's 95 % interval (Wilson, over the n replies); None in reports from before them
    refusal_rate_ci: Interval | None = None
    redirect_rate_ci: Interval | None = None
    bare_refusal_rate_ci: Interval | None = None
    eos_rate_ci: Interval | None = None

    @model_serializer(mode="wrap")
    def _intervals_when_there(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _without_absent_intervals(handler(self))


class WinRate(Record):
    """One model against the baseline on one axis: wins, ties and losses (P(candidate better)
    above, at or below 0.5), win_rate = (wins + ties / 2) / n, and mean_p, the mean
    P(candidate better); the rates are None without prompts. win_rate_ci: the win rate's 95 %
    interval (Wilson, wins + ties / 2 out of n prompts, each prompt one pair judged in both
    orders); None without prompts and in reports from before the intervals."""

    n: int
    wins: int
    ties: int
    losses: int
    win_rate: float | None
    mean_p: float | None
    win_rate_ci: Interval | None = None

    @model_serializer(mode="wrap")
    def _interval_when_there(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _without_absent_intervals(handler(self))


class JudgeAxis(Record):
    """The judge check's figures for one axis's questions: how many were checked, their mean
    accuracy on labelled pairs, the lowest, and position_bias, the share of pairs judged the
    same slot in both orders. Unchecked: zero questions and no figures."""

    checked: bool
    questions: int
    pairs: int | None = None
    accuracy: float | None
    min_accuracy: float | None
    position_bias: float | None = None

    @model_validator(mode="after")
    def _figures_iff_checked(self) -> Self:
        if self.checked != (self.accuracy is not None):
            raise ValueError("a checked axis has an accuracy, an unchecked one none")
        return self

    @model_serializer(mode="wrap")
    def _unchecked_has_no_pairs(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """An unchecked axis is written without `pairs` and `position_bias` (report.json)."""
        data: dict[str, Any] = handler(self)
        if not self.checked:
            del data["pairs"], data["position_bias"]
        return data


class JudgeFigures(Record):
    """How far to trust the win rates: the judge, where its check comes from (a dataset, a
    feedback stage's gate, "none", or "nothing to compare"), and its figures per axis."""

    model: str
    source: str
    pairs: int | None  # labelled pairs the check used
    axes: dict[Axis, JudgeAxis]
    questions: dict[Axis, list[str]]  # the questions each axis asks


class ModelFigures(Record):
    """One model: whether it is the baseline, its figures on each prompt set, and its win
    rate on the set's axis (None for the baseline, which the others are judged against). A
    set that was not evaluated (no benign prompts) has neither figures nor a win rate."""

    baseline: bool
    harmful: SetFigures
    harmlessness: WinRate | None
    benign: SetFigures | None = None
    helpfulness: WinRate | None = None

    @model_validator(mode="after")
    def _a_win_rate_for_each_set_but_the_baselines(self) -> Self:
        for set_name, axis in AXES.items():
            wanted = not self.baseline and self.of_set(set_name) is not None
            if (self.win(axis) is not None) != wanted:
                raise ValueError(f"`{axis}` is a win rate exactly when `{set_name}` is there "
                                 "and the model is not the baseline")
        return self

    @model_serializer(mode="wrap")
    def _sets_not_evaluated_are_left_out(self, handler: SerializerFunctionWrapHandler
                                         ) -> dict[str, Any]:
        """A set not evaluated is written without its two keys, not as nulls (report.json)."""
        data: dict[str, Any] = handler(self)
        for set_name, axis in AXES.items():
            if self.of_set(set_name) is None:
                del data[set_name], data[axis]
        return data

    def of_set(self, name: SetName) -> SetFigures | None:
        return self.harmful if name == "harmful" else self.benign

    def win(self, axis: Axis) -> WinRate | None:
        return self.harmlessness if axis == "harmlessness" else self.helpfulness

    def frontier_point(self) -> tuple[float | None, float | None]:
        """(harmlessness, helpfulness) win rates for the frontier plot; the baseline sits at
        (0.5, 0.5), without a helpfulness coordinate when there were no benign prompts."""
        if self.baseline:
            return 0.5, (0.5 if self.benign is not None else None)
        return tuple(w.win_rate if w else None  # type: ignore[return-value]
                     for w in (self.harmlessness, self.helpfulness))

    def frontier_intervals(self) -> tuple[Interval | None, Interval | None]:
        """The frontier point's 95 % intervals (its error bars); none for the baseline."""
        return tuple(w.win_rate_ci if w else None  # type: ignore[return-value]
                     for w in (self.harmlessness, self.helpfulness))


class CheckFigures(Record):
    """One check on one model's replies to both sets: `applied` (the replies in its scope,
    the n of its rate), `passed`, `skipped` (out of scope), pass_rate (None when it applied to
    none) and pass_rate_ci, its 95 % interval (Wilson, over the applied replies)."""

    applied: int
    passed: int
    skipped: int
    pass_rate: float | None
    pass_rate_ci: Interval | None = None

    @model_serializer(mode="wrap")
    def _interval_when_there(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _without_absent_intervals(handler(self))


class CheckReport(Record):
    """One check of the stage's `checks`: its checker, the tags it applies to (empty: every
    reply) and its figures per model, the baseline first."""

    checker: str
    applies_to: list[str]
    models: dict[str, CheckFigures]

    def rate(self, model: str) -> float | None:
        figures = self.models.get(model)
        return figures.pass_rate if figures else None


class Report(Record):
    """report.json: what was compared, how, every model's figures, the judge's, the plots,
    and each check's pass rates (no `checks` key without checks, as in reports from before)."""

    constitution: str
    stage: str
    plan_hash: str
    baseline: str  # the model the others are judged against; the first of `models`
    decoding: str  # how the replies were decoded, in words
    sets: dict[SetName, tuple[int, str]]  # prompt set → (prompts, where they come from)
    models: dict[str, ModelFigures]
    judge: JudgeFigures
    plots: list[str]  # the PNG files beside report.json, in the order report.md shows them
    checks: dict[str, CheckReport] | None = None  # check → its figures; None without checks

    @model_serializer(mode="wrap")
    def _checks_when_there(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.checks is None:
            del data["checks"]
        return data

    def to_json(self) -> str:
        """report.json's text: indented, keys in field order, floats as Python writes them."""
        return json.dumps(self.model_dump(), indent=2) + "\n"


def read_report(path: Path) -> Report:
    """An evaluate stage's report.json, checked; a RunDirError, one line, when it cannot be
    read or is not a report this version wrote (damaged, or from another version)."""
    try:
        return Report.model_validate_json(read_own(path, REPORT_LIMIT))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        why = " ".join(f"{where}: {first['msg'].removeprefix('Value error, ')}".split())[:200]
        raise RunDirError(f"{path}: not a report this version of constlang wrote ({why}); "
                          f"remove the folder {path.parent} to run stage `{path.parent.name}` "
                          "again") from None
    except OSError as exc:
        raise RunDirError(f"cannot read {path}: {exc.strerror or exc}") from None


class ModelMetrics(Record):
    """One model's headline figures in the manifest, rounded to 4 places."""

    harmful_refusal_rate: float
    harmful_redirect_rate: float
    benign_refusal_rate: float | None  # None without benign prompts
    harmlessness_win_rate: float | None  # None for the baseline
    helpfulness_win_rate: float | None
    reward_mean: float | None  # on harmful prompts; None without a reward stage


class EvaluateMetrics(Record):
    """The evaluate stage's manifest metrics: each model's headline figures, the judge's
    accuracy per axis, the time spent generating and judging, and, with checks, each check's
    pass rate per model."""

    baseline: str
    models: dict[str, ModelMetrics]
    judge_accuracy: dict[Axis, float | None]
    generate_seconds: float
    judge_seconds: float
    judge_prompts: int
    # check → model → pass rate (None where it applied to no reply); absent without checks
    checks: dict[str, dict[str, float | None]] | None = None
    # model → what its endpoint did (requests, retries, tokens, time); absent without one
    served: dict[str, dict[str, Any]] | None = None

    @model_serializer(mode="wrap")
    def _checks_when_there(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for optional in ("checks", "served"):
            if getattr(self, optional) is None:
                del data[optional]
        return data

    @classmethod
    def of(cls, report: Report, stats: dict[str, float]) -> EvaluateMetrics:
        """The metrics of a report, with the job's timings (rounded to 3 places)."""
        def four(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        models = {name: ModelMetrics(
            harmful_refusal_rate=round(m.harmful.refusal_rate, 4),
            harmful_redirect_rate=round(m.harmful.redirect_rate, 4),
            benign_refusal_rate=four(m.benign.refusal_rate) if m.benign else None,
            harmlessness_win_rate=four(m.harmlessness.win_rate) if m.harmlessness else None,
            helpfulness_win_rate=four(m.helpfulness.win_rate) if m.helpfulness else None,
            reward_mean=m.harmful.reward_mean) for name, m in report.models.items()}
        return cls(baseline=report.baseline, models=models,
                   judge_accuracy={axis: four(a.accuracy)
                                   for axis, a in report.judge.axes.items()},
                   generate_seconds=round(stats["generate_seconds"], 3),
                   judge_seconds=round(stats["judge_seconds"], 3),
                   judge_prompts=int(stats["judge_prompts"]),
                   checks=None if report.checks is None else {
                       cid: {name: four(f.pass_rate) for name, f in c.models.items()}
                       for cid, c in report.checks.items()})
