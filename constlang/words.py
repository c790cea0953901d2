"""Words: counts in messages with the noun in the number they need ("1 model", "2 models")."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun, singular for exactly 1 and plural otherwise (noun + "s" unless
    `plural` is given): counted(1, "model") == "1 model", counted(0, "pass", "passes")."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
