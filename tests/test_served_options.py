"""Served judging: option scores from the alternatives an API lists for the answer's tokens,
and answers read from text when a constitution declares the parse fallback."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from constlang.runtime.served.options import (
    NoLogprobs,
    option_scores,
    parsed_scores,
    top_logprobs,
)


def answer(*tokens: tuple[str, float]) -> dict:
    top = [{"token": t, "logprob": lp, "bytes": None} for t, lp in tokens]
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": tokens[0][0]},
                         "logprobs": {"content": [{**top[0], "top_logprobs": top}]}}]}


def test_the_first_token_table_is_read_from_a_chat_completion() -> None:
    table = top_logprobs(answer(("Yes", -0.1), ("No", -2.5), (" Yes", -4.0)))
    assert table == {"Yes": -0.1, "No": -2.5, " Yes": -4.0}


@pytest.mark.parametrize("body", [
    {"choices": [{"message": {"content": "A"}}]},  # no logprobs key: the server has none
    {"choices": [{"message": {"content": "A"}, "logprobs": None}]},
    {"choices": [{"message": {"content": "A"}, "logprobs": {"content": []}}]},
])
def test_an_answer_without_logprobs_is_told_apart(body: dict) -> None:
    with pytest.raises(NoLogprobs):
        top_logprobs(body)


def test_an_answer_that_is_no_completion_is_garbage() -> None:
    with pytest.raises(ValueError):
        top_logprobs({"error": "x"})


def test_options_that_differ_at_once_take_their_own_token() -> None:
    first = {"Yes": -0.2, "No": -1.9, "Y": -5.0}
    scores, missing = option_scores(["Yes", "No"], first, None)
    assert scores == [-0.2, -1.9] and missing == 0  # the longest token, not "Y"


def test_options_with_a_common_start_add_the_start_and_the_next_token() -> None:
    first = {"(": -0.1, "I": -3.0}
    after = {"A": -0.7, "B": -0.9, "C": -4.0}
    scores, missing = option_scores(["(A)", "(B)"], first, after)
    assert scores == pytest.approx([-0.8, -1.0]) and missing == 0


def test_a_token_that_merges_the_start_counts_directly() -> None:
    scores, _ = option_scores(["(A)", "(B)"], {"(A": -0.3, "(B": -1.6}, None)
    assert scores == [-0.3, -1.6]


def test_an_option_outside_the_alternatives_gets_the_floor_and_is_counted() -> None:
    scores, missing = option_scores(["Yes", "No"], {"Yes": -0.05, "Sure": -3.5}, None)
    assert scores == [-0.05, -3.5] and missing == 1


@pytest.mark.parametrize(("text", "expected"), [
    ("(A) is better", 0), ("The answer is (B).", 1), ("B", 1), ("A, then B", 0),
    ("Neither", None), ("ABBA", None),
])
def test_parsed_answers_name_the_first_option_given(text: str, expected: int | None) -> None:
    scores = parsed_scores(text, ["(A)", "(B)"])
    if expected is None:
        assert all(s == -math.inf for s in scores)
    else:
        assert scores[expected] == 0.0 and scores[1 - expected] == -math.inf


def test_a_key_is_never_sent_in_clear_to_another_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    from constlang.runtime.models import ModelError
    from constlang.runtime.served.spec import ServedSpec

    monkeypatch.setenv("CRITIC_KEY", "secret")
    remote = ServedSpec(id="critic", endpoint="http://10.0.0.5:8000/v1", api_key_env="CRITIC_KEY")
    with pytest.raises(ModelError, match=r"refusing to send the key from \$CRITIC_KEY"):
        remote.api_key()
    for url in ("https://10.0.0.5/v1", "http://127.0.0.1:8000/v1", "http://localhost:8000/v1"):
        assert ServedSpec(id="c", endpoint=url, api_key_env="CRITIC_KEY").api_key() == "secret"
    assert ServedSpec(id="c", endpoint="http://10.0.0.5:8000/v1").api_key() is None  # no key


def test_a_journal_never_follows_a_link_or_opens_a_fifo(tmp_path: Path) -> None:
    import os

    from constlang.runtime.served.journal import Journal

    outside = tmp_path / "outside.jsonl"
    outside.write_text('{"key": "k", "answer": {"text": "planted"}}\n')
    stage = tmp_path / "stage" / "served"
    stage.mkdir(parents=True)
    (stage / "critic.jsonl").symlink_to(outside)
    journal = Journal(stage / "critic.jsonl")
    assert journal.get("k") is None  # the link is not read
    journal.put("k2", {"text": "real"})
    journal.close()
    assert outside.read_text() == '{"key": "k", "answer": {"text": "planted"}}\n'  # untouched
    assert not (stage / "critic.jsonl").is_symlink()
    assert Journal(stage / "critic.jsonl").get("k2") == {"text": "real"}

    fifo = stage / "judge.jsonl"
    os.mkfifo(fifo)
    journal = Journal(fifo)
    assert journal.get("x") is None  # not opened: reading a FIFO would block
    journal.put("x", 1)
    journal.close()
    assert fifo.is_file() and Journal(fifo).get("x") == 1

    linked_folder = tmp_path / "stage2" / "served"
    linked_folder.parent.mkdir()
    (tmp_path / "elsewhere").mkdir()
    linked_folder.symlink_to(tmp_path / "elsewhere")
    Journal(linked_folder / "m.jsonl").put("y", 2)
    assert not any((tmp_path / "elsewhere").iterdir())  # nothing written through the link


@pytest.mark.parametrize(("message", "too_long"), [
    ("This model's maximum context length is 2048 tokens. However, you requested 3000", True),
    ("the request exceeds the available context size, try increasing it", True),
    ("Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048", True),
    ("top_logprobs must be at most the maximum of 5", False),  # a parameter, not the prompt
    ("temperature must be between 0 and 2", False),
])
def test_only_a_prompt_that_does_not_fit_counts_as_too_long(message: str, too_long: bool) -> None:
    from constlang.runtime.served.client import _too_long

    assert _too_long(message) is too_long


def test_nothing_to_ask_sends_nothing() -> None:
    from constlang.runtime.generate import GenerationSettings
    from constlang.runtime.served.engine import ServedEngine
    from constlang.runtime.served.spec import ServedSpec

    nowhere = ServedEngine(ServedSpec(id="m", endpoint="http://127.0.0.1:9/v1", retries=0))
    assert nowhere.generate_full([], GenerationSettings()) == []  # no model list asked for
