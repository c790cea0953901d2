"""The data-quality measures of generating stages: the meta-text detector and similarity."""

from __future__ import annotations

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
