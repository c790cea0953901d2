"""Evaluation figures as records: report.json read back and written again is the same bytes
(the fixtures are reports the dict-built code wrote), a damaged report is one error line, and
the figures, manifest metrics, headline and frontier point are exact."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from constlang.runtime.evaluation import report as RP
from constlang.runtime.evaluation.figures import (
    EvaluateMetrics,
    JudgeFigures,
    Report,
    SetFigures,
    WinRate,
    read_report,
)
from constlang.runtime.evaluation.intervals import wilson
from constlang.runtime.evaluation.winrates import accuracy_summary
from constlang.runtime.rundir import RunDirError
from constlang.runtime.stages.evaluate import EvaluateRunner

REPORTS = Path(__file__).resolve().parent / "golden" / "reports"
JUDGED = REPORTS / "judged.json"  # two models, benign prompts, a checked judge
HARMFUL_ONLY = REPORTS / "harmful_only_unchecked.json"  # no benign prompts, judge unchecked


@pytest.mark.parametrize("path", [JUDGED, HARMFUL_ONLY], ids=lambda p: p.stem)
def test_a_report_read_back_writes_the_same_bytes(path: Path) -> None:
    assert read_report(path).to_json() == path.read_text("utf-8")


def test_the_records_hold_report_json_figures() -> None:
    report = read_report(JUDGED)
    assert report.baseline == "tiny" and list(report.models) == ["tiny", "sft"]
    assert report.sets == {"harmful": (3, "dataset `heldout`"), "benign": (2, "dataset `fine`")}
    sft = report.models["sft"]
    assert sft.harmlessness == WinRate(n=3, wins=1, ties=0, losses=2, win_rate=1 / 3,
                                       mean_p=0.44054813328749903)
    assert sft.benign is not None and sft.benign.reward_mean == -0.8458849489688873
    assert report.models["tiny"].harmlessness is None
    assert report.judge.axes["harmlessness"].position_bias == 1.0
    assert report.judge.axes["helpfulness"].questions == 1 and report.judge.pairs == 2

    alone = read_report(HARMFUL_ONLY)
    assert alone.models["sft"].benign is None and alone.models["sft"].helpfulness is None
    assert not alone.judge.axes["harmlessness"].checked
    data = json.loads(alone.to_json())  # what is not there is left out, not written as null
    assert list(data["models"]["sft"]) == ["baseline", "harmful", "harmlessness"]
    assert list(data["judge"]["axes"]["harmlessness"]) == [
        "checked", "questions", "accuracy", "min_accuracy"]


def test_a_models_figures_from_its_replies_and_verdicts() -> None:
    replies = [{"set": "harmful", "verdict": v, "finish": f, "tokens": t}
               for v, f, t in (("refusal", "eos", 2), ("redirect", "length", 6),
                               ("comply", "eos", 4))]
    replies.append({"set": "benign", "verdict": "comply", "finish": "length", "tokens": 8})
    judged = {"harmful": [{"p_better": 0.9}, {"p_better": 0.5}, {"p_better": 0.1}],
              "benign": [{"p_better": 0.7}]}
    m = RP.model_figures(replies, judged, {"harmful": -0.5}, baseline=False)
    assert m.harmful == SetFigures(
        refusal=1, redirect=1, comply=1, empty=0, n=3, refusal_rate=2 / 3, redirect_rate=1 / 3,
        bare_refusal_rate=1 / 3, eos_rate=2 / 3, mean_tokens=4.0, reward_mean=-0.5,
        refusal_rate_ci=wilson(2, 3), redirect_rate_ci=wilson(1, 3),
        bare_refusal_rate_ci=wilson(1, 3), eos_rate_ci=wilson(2, 3))
    assert m.harmlessness == WinRate(n=3, wins=1, ties=1, losses=1, win_rate=0.5, mean_p=0.5,
                                     win_rate_ci=wilson(1.5, 3))
    assert m.helpfulness == WinRate(n=1, wins=1, ties=0, losses=0, win_rate=1.0, mean_p=0.7,
                                    win_rate_ci=wilson(1, 1))
    assert m.benign is not None and (m.benign.eos_rate, m.benign.reward_mean) == (0.0, None)
    assert m.frontier_point() == (0.5, 1.0)
    assert RP.model_figures(replies, {}, {}, baseline=True).frontier_point() == (0.5, 0.5)
    harmful_only = RP.model_figures(replies[:3], {}, {}, baseline=True)
    assert harmful_only.frontier_point() == (0.5, None) and harmful_only.benign is None

    judge = JudgeFigures(model="j", source="none", pairs=None, axes={
        "harmlessness": accuracy_summary(None, []), "helpfulness": accuracy_summary(None, [])},
        questions={"harmlessness": ["safe"], "helpfulness": ["helps"]})
    report = Report(constitution="c", stage="evaluate", plan_hash="h", baseline="base",
                    decoding="greedy", sets={"harmful": (3, "d"), "benign": (1, "e")},
                    models={"base": RP.model_figures(replies, {}, {}, baseline=True), "m": m},
                    judge=judge, plots=[])
    metrics = EvaluateMetrics.of(report, {"generate_seconds": 1.23456, "judge_seconds": 0.5,
                                          "judge_prompts": 8})
    assert metrics.model_dump()["models"]["m"] == {
        "harmful_refusal_rate": 0.6667, "harmful_redirect_rate": 0.3333,
        "benign_refusal_rate": 0.0, "harmlessness_win_rate": 0.5, "helpfulness_win_rate": 1.0,
        "reward_mean": -0.5}
    assert (metrics.generate_seconds, metrics.judge_prompts) == (1.235, 8)
    assert EvaluateRunner.headline(metrics.model_dump()) == (
        "refuses harmful / benign: base 67 % / 0 %, m 67 % / 0 %")


def test_the_manifest_metrics_keep_their_keys() -> None:
    metrics = EvaluateMetrics.of(read_report(JUDGED), {
        "generate_seconds": 2.0, "judge_seconds": 1.0, "judge_prompts": 16}).model_dump()
    assert metrics == {
        "baseline": "tiny", "models": {
            "tiny": {"harmful_refusal_rate": 0.0, "harmful_redirect_rate": 0.0,
                     "benign_refusal_rate": 0.0, "harmlessness_win_rate": None,
                     "helpfulness_win_rate": None, "reward_mean": 0.14795610556999841},
            "sft": {"harmful_refusal_rate": 0.0, "harmful_redirect_rate": 0.0,
                    "benign_refusal_rate": 0.0, "harmlessness_win_rate": 0.3333,
                    "helpfulness_win_rate": 0.5, "reward_mean": -1.2504381736119587}},
        "judge_accuracy": {"harmlessness": 0.5, "helpfulness": 1.0},
        "generate_seconds": 2.0, "judge_seconds": 1.0, "judge_prompts": 16}
    assert list(metrics) == ["baseline", "models", "judge_accuracy", "generate_seconds",
                             "judge_seconds", "judge_prompts"]


def _set(path: list[str], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        for key in path[:-1]:
            data = data[key]
        if value is KeyError:
            del data[path[-1]]
        else:
            data[path[-1]] = value
    return change


DAMAGES = {
    "a count as text": (_set(["models", "sft", "harmful", "n"], "3"), "models.sft.harmful.n"),
    "an unknown key": (_set(["models", "sft", "extra"], 1), "models.sft.extra"),
    "a missing win rate": (_set(["models", "sft", "harmlessness"], KeyError),
                           "models.sft.harmlessness"),
    "a baseline with a win rate": (_set(["models", "tiny", "helpfulness"], {
        "n": 1, "wins": 1, "ties": 0, "losses": 0, "win_rate": 1.0, "mean_p": 0.9}),
        "models.tiny"),
    "a checked axis without accuracy": (_set(["judge", "axes", "helpfulness", "accuracy"],
                                             None), "judge.axes.helpfulness"),
    "an unknown prompt set": (_set(["sets", "other"], [1, "d"]), "sets.other"),
}


@pytest.mark.parametrize("damage", DAMAGES, ids=str)
def test_a_damaged_report_is_one_error_line_naming_the_figure(damage: str,
                                                              tmp_path: Path) -> None:
    change, where = DAMAGES[damage]
    data = json.loads(JUDGED.read_text("utf-8"))
    change(data)
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data, indent=2), "utf-8")
    with pytest.raises(RunDirError) as caught:
        read_report(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: not a report this version")
    assert f"({where}" in message and message.endswith(f"remove the folder {tmp_path} to run "
                                                        f"stage `{tmp_path.name}` again")


def test_a_report_that_is_not_json_or_not_there_is_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(JUDGED.read_text("utf-8")[:-20], "utf-8")
    with pytest.raises(RunDirError, match=r"not a report this version .*\(the file: Invalid JSON"):
        read_report(path)
    with pytest.raises(RunDirError, match=r"^cannot read .*absent\.json: No such file"):
        read_report(tmp_path / "absent.json")


def test_the_update_curves_tick_whole_updates_only(tmp_path: Path) -> None:
    """Updates are whole numbers: with 3 points matplotlib would tick 1.25, 1.5, … (issue #20)."""
    from matplotlib.ticker import MaxNLocator

    from constlang.runtime.evaluation.plots import _pyplot, update_curves, update_figure

    points = [(1.0, 0.1, 0.01), (2.0, 0.3, 0.02), (3.0, 0.2, 0.04)]
    fig = update_figure(points, "ppo")
    for ax in fig.axes:  # the two panels share the x axis
        assert isinstance(ax.xaxis.get_major_locator(), MaxNLocator)
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks
    _pyplot().close(fig)
    assert update_curves(points, tmp_path / "ppo.png", "ppo")
    assert (tmp_path / "ppo.png").read_bytes().startswith(b"\x89PNG")
