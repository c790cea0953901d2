"""Text: small helpers the prompt rules share (normalising, word sets, near-duplicates)."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

MAX_CANDIDATES = 64  # earlier texts a text is compared with, the nearest in the file first
_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_WORD_CHAR = re.compile(r"[a-z0-9']")
_BLOCK = 1 << 16


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def word_set(text: str) -> frozenset[str]:
    """The distinct words of a text, read a block at a time so that memory follows the number
    of distinct words, not of occurrences (a 10 MB text of one repeated word costs a set of
    one word, not a list of two million strings)."""
    low = text.lower()
    out: set[str] = set()
    start, n = 0, len(low)
    while start < n:
        end = min(n, start + _BLOCK)
        while end < n and _WORD_CHAR.match(low, end - 1):  # cut between words only
            end += 1
        out.update(_WORD_RE.findall(low, start, end))
        start = end
    return frozenset(out)


def normalised(text: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed: equal texts compare equal."""
    return " ".join(words(text))


def similar_pairs(texts: Sequence[str], threshold: float, min_words: int = 4,
                  first_only: Callable[[int], bool] | None = None
                  ) -> list[tuple[int, int, float]]:
    """Pairs (i, j, jaccard) with i < j whose word sets have Jaccard similarity >= threshold,
    ordered by j, then i. For a j where `first_only(j)` is true, only its first pair (the
    smallest such i) is returned: a caller that reports each text once needs no more, and a
    file of near-copies then costs one comparison per text instead of MAX_CANDIDATES.

    All-pairs with prefix filtering: tokens are ordered rarest first and only the first
    |s| - ceil(t·|s|) + 1 of each set are indexed, which no pair above the threshold can miss;
    on texts that share only common words this is close to linear. A set equal to an earlier
    one is paired with the first of its kind and not indexed again, so thousands of identical
    texts cost a dictionary lookup each; each text is compared with at most MAX_CANDIDATES
    earlier ones, so the cost stays linear whatever the texts share.
    """
    sets = [word_set(t) for t in texts]
    first_of: dict[frozenset[str], int] = {}
    df = Counter(tok for s in sets for tok in s)
    rank = {tok: r for r, tok in enumerate(sorted(df, key=lambda tok: (df[tok], tok)))}
    index: dict[str, list[int]] = defaultdict(list)
    out = []
    for j, s in enumerate(sets):
        n = len(s)
        if n < min_words:
            continue
        if s in first_of:
            out.append((first_of[s], j, 1.0))
            continue
        first_of[s] = j
        prefix = n - math.ceil(threshold * n) + 1
        candidates: set[int] = set()
        for tok in sorted(s, key=rank.__getitem__)[:prefix]:
            candidates.update(index[tok][-MAX_CANDIDATES:])  # a common word: the nearest only
            index[tok].append(j)
        low, high = threshold * n, n / threshold  # sizes a match can have
        for i in sorted(candidates)[-MAX_CANDIDATES:]:
            other = sets[i]
            m = len(other)
            if m < low or m > high:
                continue
            inter = len(s & other)
            score = inter / (n + m - inter)
            if score >= threshold:
                out.append((i, j, score))
                if first_only is not None and first_only(j):
                    break
    return out


def quote(text: str) -> str:
    """Text as the inside of a one-line "..." literal."""
    return text.replace("\\", "\\\\").replace('"', '\\"')
