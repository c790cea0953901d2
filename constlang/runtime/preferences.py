"""AI feedback, the arithmetic: option log-probabilities → preferences → labels → metrics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def first_option_probability(logprobs: Sequence[float]) -> float:
    """P(first option) normalised over the two options: a softmax of their log-probabilities."""
    if len(logprobs) != 2:
        raise ValueError(f"expected the log-probabilities of two options, got {len(logprobs)}")
    first, second = logprobs
    if math.isinf(first) and math.isinf(second):
        return 0.5  # neither option is possible: no preference
    diff = second - first
    if diff > 0:  # the stable form of 1 / (1 + exp(diff)) for either sign
        e = math.exp(-diff)
        return e / (1.0 + e)
    return 1.0 / (1.0 + math.exp(diff))


def option_probability(logprobs: Sequence[float], index: int) -> float:
    """P(option `index`) normalised over the two options."""
    p = first_option_probability(logprobs)
    return p if index == 0 else 1.0 - p


def swap_average(p_first_ab: float, p_first_ba: float) -> float:
    """P(A better) from both orders: A in slot 1 (`ab`), then A in slot 2 (`ba`).

    In the swapped order the judge's first option names B, so A's share is 1 − p_first_ba.
    """
    return (p_first_ab + (1.0 - p_first_ba)) / 2.0


def _side(p: float) -> int:
    return (p > 0.5) - (p < 0.5)


def position_consistent(p_first_ab: float, p_first_ba: float) -> bool:
    """Whether both orders prefer the same response (a tie in both counts as agreement).

    A judge that picks the same slot in both orders is position-biased: it is inconsistent.
    """
    return _side(p_first_ab) == _side(1.0 - p_first_ba)


def pointwise_preference(p_good_a: float, p_good_b: float) -> float:
    """P(A better) from two pointwise judgements: A's share of the two good-answer probabilities."""
    total = p_good_a + p_good_b
    return 0.5 if total <= 0 else p_good_a / total


def clamp(p: float, bounds: Sequence[float] | None) -> float:
    """p limited to [low, high] when bounds are given (CoT probabilities are overconfident)."""
    if not bounds:
        return p
    low, high = bounds
    return min(max(p, low), high)


def weighted_mean(values: Sequence[float], weights: Sequence[float]) -> float:
    """The weighted mean; the plain mean when every weight is 0."""
    if not values:
        raise ValueError("no values to average")
    total = sum(weights)
    if total <= 0:
        return sum(values) / len(values)
    return sum(v * w for v, w in zip(values, weights, strict=True)) / total


def label(p: float, kind: str) -> float:
    """The training label of P(A better): `soft` keeps p; `hard` gives 1, 0, or 0.5 on a tie."""
    if kind == "soft":
        return p
    if kind != "hard":
        raise ValueError(f"unknown label kind `{kind}`; expected soft or hard")
    return 1.0 if p > 0.5 else 0.0 if p < 0.5 else 0.5


def chosen_rejected(response_a: str, response_b: str, label_: float) -> tuple[str, str]:
    """(chosen, rejected) per the label; a tie keeps the a/b order."""
    return (response_b, response_a) if label_ < 0.5 else (response_a, response_b)


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pairs, mean p_a, confidence, label ties and the position-consistency rate of rows."""
    n = len(rows)
    judged = [j for row in rows for j in row["judgements"]]
    swapped = [j["consistent"] for j in judged if j["consistent"] is not None]
    return {
        "pairs": n, "judgements": len(judged),
        "mean_p_a": round(sum(r["p_a"] for r in rows) / n, 4) if n else None,
        "mean_confidence": round(sum(abs(r["p_a"] - 0.5) for r in rows) / n, 4) if n else None,
        "label_ties": round(sum(r["label"] == 0.5 for r in rows) / n, 4) if n else None,
        "identical_pairs": sum(r["response_a"] == r["response_b"] for r in rows),
        "truncated_pairs": sum(r.get("drop") == "truncated" for r in rows),
        "swapped_judgements": len(swapped),
        "position_consistency": round(sum(swapped) / len(swapped), 4) if swapped else None,
    }


def summary_line(stage: str, metrics: dict[str, Any]) -> str:
    """e.g. `feedback: 8 pairs, position-consistent 62 %, mean confidence 0.07`."""
    parts = [f"{metrics['pairs']} pairs"]
    if metrics.get("position_consistency") is not None:
        parts.append(f"position-consistent {metrics['position_consistency'] * 100:.0f} %")
    if metrics.get("mean_confidence") is not None:
        parts.append(f"mean confidence {metrics['mean_confidence']:.2f}")
    if metrics.get("truncated_pairs"):
        parts.append(f"{metrics['truncated_pairs']} with a reply cut at max_new_tokens "
                     "(dropped)")
    if metrics.get("label_ties"):
        parts.append(f"label ties {metrics['label_ties'] * 100:.0f} %")
    return f"{stage}: " + ", ".join(parts)


def calibration_error(probs: Sequence[float], truths: Sequence[float],
                      bins: int = 10) -> float:
    """Expected calibration error (the judge check's and the reward model's): Σ over equal-width
    bins of (share of predictions in it) × |mean truth − mean p|.

    A prediction of exactly 1.0 falls in the last bin.
    """
    if not probs:
        raise ValueError("no predictions")
    groups: dict[int, list[tuple[float, float]]] = {}
    for p, t in zip(probs, truths, strict=True):
        groups.setdefault(min(int(p * bins), bins - 1), []).append((p, t))
    return sum(len(g) / len(probs) * abs(sum(t for _, t in g) / len(g)
                                         - sum(p for p, _ in g) / len(g))
               for g in groups.values())
