"""Win rates, the arithmetic: a judge's option log-probabilities → P(candidate better) → rates.

The same arithmetic as the feedback stage (`runtime.preferences`): a pairwise question is
scored in both orders and averaged; a pointwise question compares the two replies' log-odds
of the good answer (Bradley–Terry). Pure functions, so tests check them exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from constlang import plan as P
from constlang.runtime import preferences as pref
from constlang.runtime.evaluation.figures import JudgeAxis, WinRate
from constlang.runtime.evaluation.intervals import wilson

TIE = 1e-9  # |p − 0.5| below this is a tie (identical replies score exactly 0.5)


def good_index(q: P.Question) -> int:
    """The option a good reply earns on a pointwise question (default: the last)."""
    return q.options.index(q.good_answer or q.options[-1])


def question_preference(q: P.Question, first: Sequence[float], second: Sequence[float]) -> float:
    """P(candidate better) from one question's two scored prompts.

    Pairwise: `first` has the candidate in slot A, `second` in slot B (the swapped order).
    Pointwise: `first` judges the candidate's reply, `second` the baseline's.
    """
    if q.kind == "pointwise":
        good = good_index(q)
        return pref.pointwise_preference(pref.log_odds(first, good), pref.log_odds(second, good))
    return pref.swap_average(pref.first_option_probability(first),
                             pref.first_option_probability(second))


def prompt_preference(values: Sequence[float], questions: Sequence[P.Question]) -> float:
    """One prompt's P(candidate better): the questions' verdicts averaged by their weights."""
    return pref.weighted_mean(values, [q.weight for q in questions])


def win_rate(preferences: Sequence[float]) -> WinRate:
    """wins, ties and losses (P above, at or below 0.5), win_rate = (wins + ties / 2) / n,
    mean_p, the mean P(candidate better), and the win rate's 95 % Wilson interval over the n
    prompts (one P per prompt, both orders already averaged; a tie half a win); None rates
    without prompts."""
    n = len(preferences)
    wins = sum(p > 0.5 + TIE for p in preferences)
    losses = sum(p < 0.5 - TIE for p in preferences)
    ties = n - wins - losses
    return WinRate(n=n, wins=wins, ties=ties, losses=losses,
                   win_rate=(wins + ties / 2) / n if n else None,
                   mean_p=sum(preferences) / n if n else None,
                   win_rate_ci=wilson(wins + ties / 2, n))


def accuracy_summary(check: Mapping[str, Any] | None, questions: Sequence[str]) -> JudgeAxis:
    """The judge check's figures for these questions (`check`: the report of
    `judge_check.run_check`, or None): mean accuracy, the lowest, position bias, and how many
    of them were checked; unchecked when no report covers any of them."""
    found = [m for m in (check or {}).get("questions", []) if m["question"] in questions]
    if not check or not found:
        return JudgeAxis(checked=False, questions=0, accuracy=None, min_accuracy=None)
    acc = [float(m["accuracy"]) for m in found]
    return JudgeAxis(checked=True, questions=len(found), pairs=check.get("pairs"),
                     accuracy=sum(acc) / len(acc), min_accuracy=min(acc),
                     position_bias=sum(float(m["same_choice"]) for m in found) / len(found))
