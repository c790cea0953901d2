"""Evaluation plots (PNG, matplotlib): the harmlessness/helpfulness frontier, PPO curves, labels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def frontier(points: Sequence[tuple[str, float | None, float | None]], path: Path,
             title: str) -> bool:
    """Each model at (harmlessness win rate, helpfulness win rate) against the baseline, the
    Constitutional AI paper's picture; False (nothing written) without a point having both."""
    drawn = [(n, x, y) for n, x, y in points if x is not None and y is not None]
    if not drawn:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=100)
    ax.axvline(0.5, color="grey", linewidth=0.8, linestyle=":")
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    for name, x, y in drawn:
        ax.scatter([x], [y], s=50)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 4))
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="harmlessness win rate vs baseline",
           ylabel="helpfulness win rate vs baseline", title=title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


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
