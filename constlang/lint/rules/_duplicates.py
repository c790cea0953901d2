"""Shared by CL302 and CL303: exact and near-duplicate texts among declarations."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from constlang.lint.context import LintContext
from constlang.lint.rule import Finding
from constlang.lint.text import normalised, similar_pairs
from constlang.semantics.resolve import Symbol

THRESHOLD = 0.8  # Jaccard similarity of the word sets


def duplicates(ctx: LintContext, kind: str, items: Sequence[tuple[str, str, str]]
               ) -> Iterator[Finding]:
    """items: (name, field, text). Reports the later of each similar pair in this file."""
    by_field: dict[str, list[tuple[int, str, str]]] = {}
    for i, (name, fname, text) in enumerate(items):
        by_field.setdefault(fname, []).append((i, name, text))
    local: dict[str, Symbol | None] = {}

    def local_symbol(name: str) -> Symbol | None:
        if name not in local:
            sym = ctx.symbol(kind, name)
            local[name] = sym if sym is not None and ctx.is_local(sym) else None
        return local[name]

    seen: set[tuple[str, str]] = set()
    for fname, group in by_field.items():
        texts = [t for _, _, t in group]
        def reported(j: int, g: list[tuple[int, str, str]] = group) -> bool:
            return local_symbol(g[j][1]) is not None

        # a text of this file is reported once, against its first match: no need for more
        pairs = similar_pairs(texts, THRESHOLD, first_only=reported)
        for a, b, score in pairs:
            first, later = group[a][1], group[b][1]
            if (later, fname) in seen:  # only this file's names are ever added
                continue
            sym = local_symbol(later)
            if sym is None:
                sym, first, later = local_symbol(first), later, first
                if sym is None:
                    continue
            if (later, fname) in seen or first == later:
                continue
            seen.add((later, fname))
            exact = normalised(texts[a]) == normalised(texts[b])
            what = "the same" if exact else f"nearly the same ({score:.0%} of words shared)"
            yield Finding(f"{kind} `{later}` has {what} `{fname}` as `{first}`",
                          ctx.value_span(sym, fname),
                          f"merge the two {kind}s, or make each ask for something distinct")
