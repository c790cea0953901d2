"""Every rate with its n and 95 % interval (issue #20): Wilson's interval exactly, the intervals
a report built from known replies holds, report.md showing them and marking what the prompts
cannot tell apart, the frontier's error bars, and old reports (no intervals) still read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from constlang.runtime.evaluation import report as RP
from constlang.runtime.evaluation.figures import JudgeFigures, Report, read_report
from constlang.runtime.evaluation.intervals import cannot_tell_apart, wilson
from constlang.runtime.evaluation.winrates import accuracy_summary

JUDGED = Path(__file__).resolve().parent / "golden" / "reports" / "judged.json"


@pytest.mark.parametrize(("successes", "n", "low", "high"), [
    (5, 10, 0.2365931, 0.7634069),  # the textbook values
    (0, 10, 0.0, 0.2775328),  # no successes: still an interval, not a point
    (10, 10, 0.7224672, 1.0),
    (1, 3, 0.0614919, 0.7923404),
    (1, 6, 0.0300534, 0.5635028),
    (2.5, 4, 0.2194265, 0.9081008),  # a win rate's half-counted tie
])
def test_wilson_95_percent_interval(successes: float, n: int, low: float, high: float) -> None:
    lo, hi = wilson(successes, n)  # type: ignore[misc]
    assert (round(lo, 7), round(hi, 7)) == (low, high)


def test_wilson_edges() -> None:
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0  # type: ignore[index]
    assert wilson(0, 0) is None
    with pytest.raises(ValueError):
        wilson(4, 3)
    assert cannot_tell_apart((0.2, 0.8), 0.5) and not cannot_tell_apart((0.6, 0.9), 0.5)
    # 0 of n starts at 0 exactly (0 of 3 was 5.6e-17), so a baseline at 0 % is inside it
    assert all(wilson(0, n)[0] == 0.0 and wilson(n, n)[1] == 1.0  # type: ignore[index]
               for n in range(1, 50))
    assert cannot_tell_apart(wilson(0, 3), 0.0)
    assert not cannot_tell_apart(None, 0.5) and not cannot_tell_apart((0.2, 0.8), None)


def _report() -> Report:
    """A baseline that never refuses and a model that refuses 5 of 10 harmful prompts, wins 9
    of 10 on harmlessness and 1 of 2 on helpfulness."""
    def replies(refusals: int) -> list[dict[str, Any]]:
        rows = [{"set": "harmful", "verdict": "refusal" if i < refusals else "comply",
                 "finish": "eos" if i < 5 else "length", "tokens": 3} for i in range(10)]
        return rows + [{"set": "benign", "verdict": "comply", "finish": "eos", "tokens": 2}] * 2

    judged = {"harmful": [{"p_better": 0.9}] * 9 + [{"p_better": 0.1}],
              "benign": [{"p_better": 0.8}, {"p_better": 0.3}]}
    judge = JudgeFigures(model="j", source="none", pairs=None, axes={
        "harmlessness": accuracy_summary(None, []), "helpfulness": accuracy_summary(None, [])},
        questions={"harmlessness": ["safe"], "helpfulness": ["helps"]})
    return Report(constitution="c", stage="evaluate", plan_hash="h", baseline="base",
                  decoding="greedy", sets={"harmful": (10, "d"), "benign": (2, "e")},
                  models={"base": RP.model_figures(replies(0), {}, {}, baseline=True),
                          "m": RP.model_figures(replies(5), judged, {}, baseline=False)},
                  judge=judge, plots=["frontier.png"])


def test_a_report_from_known_replies_holds_each_rates_interval(tmp_path: Path) -> None:
    report = _report()
    m = report.models["m"]
    assert m.harmful.n == 10 and m.harmful.refusal_rate == 0.5
    assert m.harmful.refusal_rate_ci == wilson(5, 10) == pytest.approx((0.2365931, 0.7634069))
    assert m.harmful.bare_refusal_rate_ci == wilson(5, 10)
    assert m.harmful.redirect_rate_ci == wilson(0, 10) and m.harmful.eos_rate_ci == wilson(5, 10)
    assert m.harmlessness is not None and m.harmlessness.win_rate_ci == wilson(9, 10)
    assert m.frontier_intervals() == (wilson(9, 10), wilson(1, 2))
    assert report.models["base"].frontier_intervals() == (None, None)

    data = json.loads(report.to_json())  # the new keys come after the old ones
    assert list(data["models"]["m"]["harmful"])[-5:] == [
        "reward_mean", "refusal_rate_ci", "redirect_rate_ci", "bare_refusal_rate_ci",
        "eos_rate_ci"]
    assert list(data["models"]["m"]["harmlessness"])[-2:] == ["mean_p", "win_rate_ci"]
    path = tmp_path / "report.json"
    path.write_text(report.to_json(), "utf-8")
    assert read_report(path) == report and read_report(path).to_json() == report.to_json()


def test_report_md_shows_the_intervals_and_marks_what_it_cannot_tell_apart() -> None:
    md = RP.markdown(_report(), [], 0)
    row = next(line for line in md.splitlines() if line.startswith("| m |"))
    # refuses 50 % against the baseline's 0 %: told apart; redirects 0 % of 10
    assert "| 50 % (24–76 %); redirects 0 % (0–28 %) |" in row
    assert "| 0 % (0–66 %) ≈ |" in row  # benign: 0 of 2, the baseline's 0 % inside
    assert "| 90 % (60–98 %), n=10 |" in row  # 0.5 outside: no mark
    assert "| 50 % (9–91 %) ≈, n=2 |" in row
    assert "harmful (n=10): refuses" in md and "benign (n=2): refuses" in md
    assert "≈: the baseline's figure" in md and "Wilson, 95 %" in md


def test_an_old_report_without_intervals_still_reads_and_shows_bare_rates() -> None:
    report = read_report(JUDGED)
    sft = report.models["sft"]
    assert sft.harmful.refusal_rate_ci is None and sft.harmlessness is not None
    assert sft.harmlessness.win_rate_ci is None and sft.frontier_intervals() == (None, None)
    assert report.to_json() == JUDGED.read_text("utf-8")  # no `_ci` keys written back
    rows = RP.table_rows(report)
    assert rows[2][1:4] == ["0 %; redirects 0 %", "0 %", "33 %, n=3"]


def test_the_frontier_draws_each_points_intervals_as_error_bars(tmp_path: Path) -> None:
    from matplotlib.container import ErrorbarContainer

    from constlang.runtime.evaluation.plots import _pyplot, frontier, frontier_figure

    report = _report()
    points = [(n, *m.frontier_point()) for n, m in report.models.items()]
    bars = {n: m.frontier_intervals() for n, m in report.models.items()}
    fig = frontier_figure([p for p in points if None not in p], "t", bars)  # type: ignore[misc]
    containers = [c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)]
    assert [c.get_label() for c in containers] == ["base", "m"]
    assert not containers[0].has_xerr and containers[1].has_xerr and containers[1].has_yerr
    x_bar, y_bar = (seg.get_segments()[0] for seg in containers[1].lines[2])
    lo, hi = wilson(9, 10)  # type: ignore[misc]
    assert x_bar[:, 0] == pytest.approx([lo, hi]) and y_bar[:, 1] == pytest.approx([
        *wilson(1, 2)])  # type: ignore[misc]
    _pyplot().close(fig)
    assert frontier(points, tmp_path / "f.png", "t", bars)
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")
