"""Evaluate, refusal figures: the detector's verdicts (constlang.checks.refusal) counted."""

from __future__ import annotations

from collections.abc import Iterable

from constlang.checks.refusal import VERDICTS, classify, declines, redirects
from constlang.runtime.evaluation.figures import Refusals

__all__ = ["VERDICTS", "classify", "declines", "redirects", "refusal_counts"]


def refusal_counts(verdicts: Iterable[str]) -> Refusals:
    """Each verdict's count, `n`, and the rates: `refusal_rate` the share that declines
    (refusals and redirects together), `redirect_rate` and `bare_refusal_rate` its parts."""
    counts: dict[str, int] = {v: 0 for v in VERDICTS}
    for v in verdicts:
        counts[v] += 1
    n = sum(counts.values())

    def rate(*keys: str) -> float:
        return sum(counts[k] for k in keys) / n if n else 0.0

    return Refusals(refusal=counts["refusal"], redirect=counts["redirect"],
                    comply=counts["comply"], empty=counts["empty"], n=n,
                    refusal_rate=rate("refusal", "redirect"), redirect_rate=rate("redirect"),
                    bare_refusal_rate=rate("refusal"))
