"""Shared by CL302 and CL303: exact and near-duplicate texts among declarations."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from constlang.lint.context import LintContext
from constlang.lint.rule import Finding
from constlang.lint.text import normalised, similar_pairs

THRESHOLD = 0.8  # Jaccard similarity of the word sets


def duplicates(ctx: LintContext, kind: str, items: Sequence[tuple[str, str, str]]
               ) -> Iterator[Finding]:
    """items: (name, field, text). Reports the later of each similar pair in this file."""
    by_field: dict[str, list[tuple[int, str, str]]] = {}
    for i, (name, fname, text) in enumerate(items):
        by_field.setdefault(fname, []).append((i, name, text))
    seen: set[tuple[str, str]] = set()
    for fname, group in by_field.items():
        texts = [t for _, _, t in group]
        for a, b, score in similar_pairs(texts, THRESHOLD):
            first, later = group[a][1], group[b][1]
            sym = ctx.symbol(kind, later)
            if sym is None or not ctx.is_local(sym):
                sym, first, later = ctx.symbol(kind, first), later, first
                if sym is None or not ctx.is_local(sym):
                    continue
            if (later, fname) in seen or first == later:
                continue
            seen.add((later, fname))
            exact = normalised(texts[a]) == normalised(texts[b])
            what = "the same" if exact else f"nearly the same ({score:.0%} of words shared)"
            yield Finding(f"{kind} `{later}` has {what} `{fname}` as `{first}`",
                          ctx.value_span(sym, fname),
                          f"merge the two {kind}s, or make each ask for something distinct")
