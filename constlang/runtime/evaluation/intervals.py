"""95 % intervals for the evaluation's rates: Wilson's score interval, a pure function.

Wilson's interval stays inside [0, 1] and keeps a sensible width at 0 or n successes, where
the normal approximation (p ± 1.96·SE) collapses to a point; with the 6 to 30 prompts an
evaluation holds, it is the usual choice. Tests check it against known values.
"""

from __future__ import annotations

from math import sqrt

Interval = tuple[float, float]  # (low, high), shares in [0, 1]
Z95 = 1.959963984540054  # the standard normal's 97.5th percentile: a two-sided 95 % interval


def wilson(successes: float, n: int, z: float = Z95) -> Interval | None:
    """Wilson's score interval for `successes` out of `n` (None without trials). `successes`
    may be fractional (a win rate counts ties as half a win)."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"{successes} successes out of {n}")
    p = successes / n
    return _low(p, n, z), 1.0 - _low(1.0 - p, n, z)  # symmetric: 10/10's high is exactly 1


def _low(p: float, n: int, z: float) -> float:
    if p == 0:  # centre − half is 0 exactly, but in floats it can be 5.6e-17 (0 of 3)
        return 0.0
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half)


def cannot_tell_apart(interval: Interval | None, value: float | None) -> bool:
    """Whether `value` (the baseline's figure) lies inside the interval, so the prompts cannot
    tell the two apart; False when either is missing (nothing to compare)."""
    return interval is not None and value is not None and interval[0] <= value <= interval[1]
