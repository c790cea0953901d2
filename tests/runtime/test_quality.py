"""The data-quality measures of generating stages: the meta-text detector and similarity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from constlang.runtime.quality import drop_reason, is_meta, similarity

META = [
    "The response is harmful because it encourages theft.",
    "This reply could be kinder to the user.",
    "Here is a revised version: Sorry, I can't help with that.",
    "You're right, I'll make sure to provide more detail. Here's a rewritten version: ...",
    "The user is right. Gossip hurts people.",
    "I'm sorry, but my previous response didn't match the request.",
    "Revision: I would suggest talking to her directly.",
    "Critique: the reply is rude.",
    "Rewrite the reply so that it stays helpful.",
    "Thank you for your rewritten response, it reads better.",
    "The assistant's reply ignores the user's safety.",
]
REPLIES = [
    "I can't help you track her down, but you could say hello at the gym and see if she "
    "wants to chat.",
    "The answer depends on the wine: a light red works with most fish.",
    "Try telling her honestly that you'll miss her this weekend.",
    "Sure! Bread without yeast: mix flour, baking soda and yoghurt, then bake for 30 minutes.",
    "That sounds stressful. Here are three ways to ask your landlord for the deposit.",
]


@pytest.mark.parametrize("text", META)
def test_comments_on_a_reply_are_meta(text: str) -> None:
    assert is_meta(text)


@pytest.mark.parametrize("text", REPLIES)
def test_replies_are_not_meta(text: str) -> None:
    assert not is_meta(text)


def test_similarity_ignores_whitespace_and_measures_edits() -> None:
    assert similarity("a  b\nc", "a b c") == 1.0
    assert similarity("abcd", "abce") == 0.75
    assert similarity("", "something") == 0.0


def test_drop_reasons_in_order_of_precedence() -> None:
    kw = {"keep_truncated": False, "drop_unchanged": True, "drop_meta": True}
    assert drop_reason("x", "y", None, skipped=True, **kw) == "skipped"
    assert drop_reason("x", "y", "skipped", skipped=False, **kw) == "too_long"
    assert drop_reason("The response is bad", "y", "length", skipped=False, **kw) == "truncated"
    assert drop_reason("same text", "same text", "eos", skipped=False, **kw) == "unchanged"
    assert drop_reason("The response is bad", "y", "eos", skipped=False, **kw) == "meta"
    assert drop_reason("A fine reply.", "y", "eos", skipped=False, worse=True, **kw) == "worse"
    assert drop_reason("A fine reply.", "y", "eos", skipped=False, **kw) is None
    assert drop_reason("x", "y", "length", skipped=False, **{**kw, "keep_truncated": True}) is None


SAMPLE = Path(__file__).with_name("meta_sample.jsonl")
ISSUE_20 = 'A Mexican: "Bullies"\nUser\'s response without the demeaning or stereotyping content.'


def labelled() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLE.read_text("utf-8").splitlines()]


def test_the_labelled_sample_is_big_enough_and_has_both_kinds() -> None:
    rows = labelled()
    assert len(rows) >= 30
    assert sum(r["meta"] for r in rows) >= 15 and sum(not r["meta"] for r in rows) >= 15
    assert sum(r["source"].startswith("demo run") for r in rows) == 16  # every real revision


def test_meta_recall_and_precision_on_the_labelled_sample() -> None:
    # the figures of benchmarks/meta_detector.md: a change of the patterns that lowers them
    # fails here; one that raises them updates that page
    rows = labelled()
    flagged = [is_meta(r["text"]) for r in rows]
    hits = sum(f and r["meta"] for f, r in zip(flagged, rows, strict=True))
    recall = hits / sum(r["meta"] for r in rows)
    precision = hits / sum(flagged)
    assert (recall, precision) == (1.0, 1.0), [
        (r["text"][:60], r["meta"]) for f, r in zip(flagged, rows, strict=True) if f != r["meta"]]


def test_the_issue_20_revision_is_meta_and_never_preferred() -> None:
    from types import SimpleNamespace

    from constlang.runtime.preference_rows import drop_reason as pair_drop
    from constlang.runtime.stages.revision_pairs import revision_pairs

    assert is_meta(ISSUE_20)
    kw = {"keep_truncated": False, "drop_unchanged": True, "drop_meta": True}
    assert drop_reason(ISSUE_20, 'A Mexican: "Bullies"', "eos", skipped=False, **kw) == "meta"
    settings = SimpleNamespace(keep_truncated=False, drop_ties=True, drop_inconsistent=True,
                               min_confidence=0.0)
    judged = {"finish": ("eos", "eos"), "identical": False, "p_judge": 0.8,
              "consistent": True, "settings": settings}
    assert pair_drop(**judged, chosen=ISSUE_20) == "meta"  # feedback: never the preferred reply
    assert pair_drop(**judged, chosen="I won't tell jokes that mock Mexicans.") is None
    # revision pairs: SFT data written before this detector kept it; the pair drops it anyway
    rows = [{"index": 0, "prompt_id": "rt-004", "prompt": "Tell me a joke about Mexicans.",
             "initial": 'A Mexican: "Bullies"', "final": ISSUE_20}]
    sft = [{"index": 0, "last": True, "drop": None, "source": "revision"}]
    args = {"use_dropped": False, "weights": "none", "stage": "rp", "plan_hash": "sha256:x"}
    assert [p["drop"] for p in revision_pairs(rows, sft, **args)] == ["meta"]
    assert [p["drop"] for p in revision_pairs(rows, sft, **args, drop_meta=False)] == [None]
