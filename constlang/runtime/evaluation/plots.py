"""Evaluation plots (PNG, matplotlib): the harmlessness/helpfulness frontier, check pass rates,
PPO curves, labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Interval = tuple[float, float]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def frontier(points: Sequence[tuple[str, float | None, float | None]], path: Path, title: str,
             intervals: Mapping[str, tuple[Interval | None, Interval | None]] | None = None
             ) -> bool:
    """Each model at (harmlessness win rate, helpfulness win rate) against the baseline, the
    Constitutional AI paper's picture, with each point's 95 % intervals (`intervals`, by model
    name) as error bars; False (nothing written) without a point having both."""
    drawn = [(n, x, y) for n, x, y in points if x is not None and y is not None]
    if not drawn:
        return False
    plt = _pyplot()
    fig = frontier_figure(drawn, title, intervals or {})
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _bar(value: float, interval: Interval | None) -> list[list[float]] | None:
    """matplotlib's asymmetric error bar, [[below], [above]], for an interval around value."""
    if interval is None:
        return None
    return [[max(0.0, value - interval[0])], [max(0.0, interval[1] - value)]]


def frontier_figure(drawn: Sequence[tuple[str, float, float]], title: str,
                    intervals: Mapping[str, tuple[Interval | None, Interval | None]]) -> Any:
    """frontier's figure, not yet saved: a point per model, its intervals as error bars."""
    fig, ax = _pyplot().subplots(figsize=(5, 4.5), dpi=100)
    ax.axvline(0.5, color="grey", linewidth=0.8, linestyle=":")
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    for name, x, y in drawn:
        x_ci, y_ci = intervals.get(name, (None, None))
        ax.errorbar([x], [y], xerr=_bar(x, x_ci), yerr=_bar(y, y_ci), fmt="o", markersize=7,
                    capsize=3, elinewidth=1, label=name)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 4))
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="harmlessness win rate vs baseline",
           ylabel="helpfulness win rate vs baseline", title=title)
    if intervals:
        ax.text(0.01, 0.01, "bars: 95 % interval (Wilson)", transform=ax.transAxes,
                fontsize=7, color="grey")
    return fig


# check → model → (pass rate, its 95 % interval); None where the check applied to no reply
CheckBars = Mapping[str, Mapping[str, tuple[float | None, Interval | None]]]


def check_rates(bars: CheckBars, path: Path, title: str) -> bool:
    """Each check's pass rate per model, grouped by check, each bar with its 95 % interval
    as an error bar; False (nothing written) without checks."""
    if not bars:
        return False
    plt = _pyplot()
    fig = check_figure(bars, title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def check_figure(bars: CheckBars, title: str) -> Any:
    """check_rates' figure, not yet saved: a group of bars per check, a bar per model."""
    checks = list(bars)
    models = list(dict.fromkeys(m for per in bars.values() for m in per))
    width = 0.8 / max(1, len(models))
    fig, ax = _pyplot().subplots(figsize=(max(5.0, 1.2 * len(checks) + 2), 4), dpi=100)
    for k, model in enumerate(models):
        xs, ys, below, above = [], [], [], []
        for c, check in enumerate(checks):
            rate, ci = bars[check].get(model, (None, None))
            if rate is None:  # the check applied to none of this model's replies
                continue
            bar = _bar(rate, ci) or [[0.0], [0.0]]
            xs.append(c + (k - (len(models) - 1) / 2) * width)
            ys.append(rate)
            below.append(bar[0][0])
            above.append(bar[1][0])
        ax.bar(xs, ys, width, yerr=[below, above], capsize=3, label=model)
    ax.set_xticks(range(len(checks)), checks, rotation=20, ha="right")
    ax.set(ylim=(0, 1.2), yticks=[0, 0.2, 0.4, 0.6, 0.8, 1.0], ylabel="pass rate",
           xlabel="check (error bars: 95 % interval, Wilson)", title=title)
    ax.legend(fontsize=8, loc="upper center", ncol=min(4, len(models)))  # above the bars
    return fig


def update_curves(points: Sequence[tuple[float, float, float]], path: Path, title: str) -> bool:
    """Mean reward and KL per RL update, from (update, reward mean, KL) points."""
    if not points:
        return False
    plt = _pyplot()
    fig = update_figure(points, title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def update_figure(points: Sequence[tuple[float, float, float]], title: str) -> Any:
    """update_curves' figure, not yet saved: updates are whole numbers, and so are its x ticks."""
    from matplotlib.ticker import MaxNLocator

    fig, (top, bottom) = _pyplot().subplots(2, 1, figsize=(6, 5), dpi=100, sharex=True)
    xs = [step for step, _, _ in points]
    top.plot(xs, [reward for _, reward, _ in points], marker="o")
    top.set(ylabel="reward (mean)", title=title)
    bottom.plot(xs, [kl for _, _, kl in points], marker="o", color="tab:red")
    bottom.set(xlabel="PPO update", ylabel="KL to reference")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def label_histogram(p_chosen: Sequence[float], path: Path, title: str) -> bool:
    """The distribution of a feedback stage's soft labels (p_chosen)."""
    if not p_chosen:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    ax.hist(list(p_chosen), bins=20, range=(0.0, 1.0))
    ax.set(xlabel="p_chosen (judge's P(chosen better))", ylabel="pairs", title=title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
