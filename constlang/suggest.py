"""Suggest: the "did you mean" name for a misspelling, from an index built once per set of
names, so that a thousand misspellings among a thousand names stay near linear."""

from __future__ import annotations

import bisect
from collections.abc import Iterable

FULL_POOL = 80  # up to this many names, a misspelling is compared with every one of them
NEIGHBOURS = 4  # otherwise: this many names on each side of it in sorted order ...
SAME_ENDING = 4  # ... this many ending in its last three characters ...
PER_KEY = 8  # ... and those one edit away, at most this many per deletion key
CUTOFF = 0.6  # difflib ratio a suggestion needs
MAX_SUGGESTIONS = 200  # per index (one file's names of a kind): text output shows 200 a file


def _deletions(name: str) -> set[str]:
    """The name and every string one character shorter: two names share one of these when
    they are one insertion, deletion, substitution or swap of neighbours apart."""
    return {name, *[name[:i] + name[i + 1:] for i in range(len(name))]}


class NameIndex:
    """The names a misspelling may be meant as, sorted once, with lookups for near ones."""

    def __init__(self, names: Iterable[str]):
        self.names = sorted(set(names))
        self.left = MAX_SUGGESTIONS  # a file with thousands of misspellings: the first ones
        self._by_ending: dict[str, list[str]] | None = None
        self._by_deletion: dict[str, list[str]] | None = None

    def _indexes(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        if self._by_ending is None or self._by_deletion is None:  # on the first large lookup
            by_ending: dict[str, list[str]] = {}
            by_deletion: dict[str, list[str]] = {}
            get = by_deletion.get
            for n in self.names:
                ending = by_ending.setdefault(n[-3:], [])
                if len(ending) < SAME_ENDING:
                    ending.append(n)
                for key in _deletions(n):
                    near = get(key)
                    if near is None:
                        by_deletion[key] = [n]
                    elif len(near) < PER_KEY:
                        near.append(n)
            self._by_ending, self._by_deletion = by_ending, by_deletion
        return self._by_ending, self._by_deletion

    def pool(self, name: str) -> tuple[list[str], bool]:
        """The names worth comparing with `name` (every name, when there are few), and whether
        they are all one edit away from it."""
        size = len(name)
        one_edit = False
        if len(self.names) <= FULL_POOL:
            found: Iterable[str] = self.names
        else:
            by_ending, by_deletion = self._indexes()
            close = {n for key in _deletions(name) for n in by_deletion.get(key, ())}
            if close:  # one edit away: the likeliest meant
                found, one_edit = close, True
            else:
                at = bisect.bisect(self.names, name)
                found = {*self.names[max(0, at - NEIGHBOURS):at + NEIGHBOURS],
                         *by_ending.get(name[-3:], ())}
        # a 0.6 ratio needs lengths within these bounds
        return sorted(n for n in found if 0.43 * size <= len(n) <= 2.34 * size), one_edit

    def suggest(self, name: str) -> str | None:
        if self.left <= 0:
            return None
        self.left -= 1
        pool, one_edit = self.pool(name)
        if one_edit and len(pool) == 1 and len(name) >= 3:
            return pool[0]  # the one name an edit away (its ratio is above the cutoff)
        import difflib  # only when a name is misspelled: keeps start-up light

        matches = difflib.get_close_matches(name, pool, n=1, cutoff=CUTOFF)
        return matches[0] if matches else None
