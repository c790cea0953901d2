"""Data quality: what a generating stage measures about what it wrote, and which rows it drops.

A pipeline that runs is not a method that works: each stage that writes model text reports how
much of it ended properly (EOS, not the token limit), how much of it changed, and how much of it
is the wrong kind of text, in its manifest and its run summary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Any

NEARLY_SAME = 0.9  # similarity (difflib ratio) at or above which a revision counts as unchanged

# A revision should be a reply to the user. Small models often write *about* the reply instead:
# they grade it, announce a rewrite, address the critic, or describe what a rewrite leaves out
# ("User's response without the demeaning content"). Each pattern is one such opening or
# phrase; the detector flags a text when any matches (case-insensitive). Tuned on the revisions
# read by hand in benchmarks/critique_quality.md and measured on the labelled sample in
# tests/runtime/meta_sample.jsonl (benchmarks/meta_detector.md). Known limits: it reads
# English only, and a reply that legitimately quotes "the response" can be flagged. "The
# answer ..." is not an opening it flags: genuine replies start that way ("The answer depends
# on the wine"); nor is "your response": the user's own response is a fine topic of a reply.
_REPLY = r"(reply|response|answer|critique|revision)"
_OWNER = r"(the|this|that|my|previous|original|assistant'?s?|user'?s?)"
# "a rewritten version of your essay" is a reply to a request for one, not a comment
_NOT_OF = r"(?! of (your|the|this|that) (?!reply|response|answer))"
META_PATTERNS: tuple[str, ...] = (
    r"^\s*(the|this|my|that) (assistant'?s? )?(previous |original |initial |above )?"
    r"(reply|response|critique|revision)\b",
    r"^\s*(this|that|the previous|the original|my previous) answer\b",
    r"\b(here is|here's|below is) (a |the |my )?(revised|rewritten|new|improved|updated) "
    r"(version|reply|response|answer)\b" + _NOT_OF,
    r"\b(here is|here's) (the|my) (revision|rewrite)\b",
    r"^\s*(revised|rewritten|improved|updated|new) (reply|response|answer|version)\s*[:\-]",
    r"^\s*(revision|critique|assistant|response)\s*:",
    r"^\s*((yes|ok|okay|sure|indeed)[,;.!]?\s+)?(you're|you are) right\b|^\s*the user\b",
    r"\bthe assistant('s)? (reply|response|answer)\b|\bthe assistant should\b",
    r"\bmy (previous|original|earlier) (reply|response|answer)\b",
    r"\b(the|this) (reply|response) (is|was|can|could|would|should|does|did|doesn't|fails|"
    r"contains|lacks|needs)\b",
    r"\b(rewrite|revise) the (reply|response)\b|\brewritten (reply|response|version)\b"
    + _NOT_OF,
    r"\b(i'll|i will|let me) (rewrite|revise) (the|this|my) (reply|response|answer)\b",
    r"\brevision request\b|\bcritique request\b|\bno critique needed\b",
    rf"\b{_OWNER} {_REPLY} without\b|^\s*{_REPLY} without\b",
    r"\buser'?s (reply|response)\b",
)
_META = [re.compile(p, re.IGNORECASE | re.MULTILINE) for p in META_PATTERNS]


def is_meta(text: str) -> bool:
    """Whether a text reads as a comment on a reply rather than a reply (see META_PATTERNS)."""
    head = text.strip()
    return any(p.search(head) for p in _META)


def similarity(a: str, b: str) -> float:
    """How alike two texts are, 0..1 (difflib's ratio over whitespace-normalised text)."""
    x, y = " ".join(a.split()), " ".join(b.split())
    if x == y:
        return 1.0
    return SequenceMatcher(None, x, y, autojunk=False).ratio()


def drop_reason(revision: str, before: str, finish: str | None, *, skipped: bool,
                keep_truncated: bool, drop_unchanged: bool, drop_meta: bool,
                worse: bool = False) -> str | None:
    """Why a round's revision is not an SFT target, or None when it is one.

    skipped: the critique asked for no change, so there is no revision; too_long: the prompt
    did not fit the context (the model's `overflow = "skip"`); truncated: cut off at
    max_new_tokens; unchanged: (nearly) the reply it revises; meta: a comment on the reply;
    worse: the judge scores it below the reply it revises (the caller decides `worse`).
    """
    if skipped:
        return "skipped"
    if finish == "skipped":
        return "too_long"
    if finish == "length" and not keep_truncated:
        return "truncated"
    if drop_unchanged and similarity(revision, before) >= NEARLY_SAME:
        return "unchanged"
    if drop_meta and is_meta(revision):
        return "meta"
    if worse:
        return "worse"
    return None


def share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def text_report(texts: Sequence[str], finishes: Sequence[str | None],
                tokens: Sequence[int | None]) -> dict[str, Any]:
    """Share that ended with EOS, share cut at the token limit, mean length in tokens."""
    known = [f for f in finishes if f is not None]
    counted = [t for t in tokens if t is not None]
    return {"count": len(texts), "eos_share": share([f == "eos" for f in known]),
            "truncated_share": share([f == "length" for f in known]),
            "mean_tokens": mean(counted), "empty_share": share([not t.strip() for t in texts])}
