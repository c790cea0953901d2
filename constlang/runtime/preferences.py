"""AI feedback, the arithmetic: option log-probabilities → preferences → labels → metrics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol


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


def sigmoid(x: float) -> float:
    """1 / (1 + e^−x), without overflow for either sign."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def log_odds(logprobs: Sequence[float], index: int) -> float:
    """log P(option `index`) − log P(the other option); nan when neither option is possible."""
    if len(logprobs) != 2:
        raise ValueError(f"expected the log-probabilities of two options, got {len(logprobs)}")
    this, other = logprobs[index], logprobs[1 - index]
    if math.isinf(this) and math.isinf(other):
        return math.nan
    return this - other


def pointwise_preference(log_odds_a: float, log_odds_b: float) -> float:
    """P(A better) from two pointwise judgements (Bradley–Terry): σ(ℓ_A − ℓ_B), where ℓ is each
    reply's log-odds of the good answer. 0.5 when either reply could not be judged.

    (A's share of the two good-answer probabilities, p_A / (p_A + p_B), would pull 0.99 against
    0.90 to 0.52, though the judge is ten times surer of A.)
    """
    if math.isnan(log_odds_a) or math.isnan(log_odds_b):
        return 0.5
    if math.isinf(log_odds_a) and math.isinf(log_odds_b) and log_odds_a == log_odds_b:
        return 0.5
    return sigmoid(log_odds_a - log_odds_b)


def option_mass(logprobs: Sequence[float]) -> float:
    """The probability the judge put on the options at all (the rest went elsewhere)."""
    return sum(math.exp(x) for x in logprobs)


def clamp(p: float, bounds: Sequence[float] | None) -> float:
    """p limited to [low, high] when bounds are given (CoT probabilities are overconfident)."""
    if not bounds:
        return p
    low, high = bounds
    return min(max(p, low), high)


class Scored(Protocol):
    """One scored prompt of a question: its order (ab, ba) or reply (a, b), the options'
    log-probabilities, and the judge's rationale before it (chain of thought) if any."""

    order: str
    logprobs: list[float]
    rationale: str | None


def verdict(question: Any, scored: Sequence[Scored], bounds: Sequence[float] | None
            ) -> dict[str, Any]:
    """One question's verdict on replies A and B from its scored prompts (both orders, or A and
    B alone): P(A better), clamped to `bounds`, and each prompt's raw figures."""
    consistent: bool | None = None  # only two orders of a pairwise question can disagree
    if question.kind == "pointwise":
        good = question.options.index(question.good_answer or question.options[-1])
        by = {s.order: s for s in scored}
        p_a = pointwise_preference(log_odds(by["a"].logprobs, good),
                                   log_odds(by["b"].logprobs, good))
        p = {s.order: option_probability(s.logprobs, good) for s in scored}
    else:
        p = {s.order: first_option_probability(s.logprobs) for s in scored}
        if "ba" in p:
            p_a = swap_average(p["ab"], p["ba"])
            consistent = position_consistent(p["ab"], p["ba"])
        else:
            p_a = p["ab"]
    orders = [{"order": s.order, "logprobs": s.logprobs, "p": p[s.order],
               "mass": option_mass(s.logprobs), "rationale": s.rationale} for s in scored]
    return {"question": question.id, "kind": question.kind, "p_a": clamp(p_a, bounds),
            "orders": orders, "consistent": consistent}


def weighted_mean(values: Sequence[float], weights: Sequence[float]) -> float:
    """The weighted mean; the plain mean when every weight is 0."""
    if not values:
        raise ValueError("no values to average")
    total = sum(weights)
    if total <= 0:
        return sum(values) / len(values)
    return sum(v * w for v, w in zip(values, weights, strict=True)) / total


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
