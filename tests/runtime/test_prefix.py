"""Prefix reuse and decoding controls: exact equality with a plain run, and what each changes."""

from __future__ import annotations

import pytest
import torch
from transformers import RepetitionPenaltyLogitsProcessor

from constlang.runtime.decoding import GeneratedRepetitionPenalty, finishes
from constlang.runtime.generate import Generation, GenerationEngine, GenerationSettings
from constlang.runtime.models import LoadedModel, ModelError
from constlang.runtime.prefix import MIN_PREFIX_TOKENS, common_prefix_length

FEW_SHOT = [
    {"role": "user", "content": "Critique this reply: 'Just take the car, nobody will notice.'"},
    {"role": "assistant", "content": "It encourages theft and ignores the harm to the owner."},
    {"role": "user", "content": "Critique this reply: 'Mix bleach and ammonia to clean faster.'"},
    {"role": "assistant", "content": "It gives dangerous advice: the mixture releases toxic gas."},
]
REQUESTS = ["Critique this reply: 'Sure, here is how to pick a lock.'", "Critique: 'No.'",
            "Critique this reply, which is long on purpose so that rows differ in length: "
            "'You could write to the landlord and ask politely for the deposit back.'",
            "Critique this reply: 'Fine.'", "Critique this reply: 'Ask a locksmith instead.'"]
CHATS = [[*FEW_SHOT, {"role": "user", "content": r}] for r in REQUESTS]
GREEDY = GenerationSettings(max_new_tokens=10, temperature=0)


def test_common_prefix_leaves_every_row_a_token() -> None:
    assert common_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 9]]) == 2
    assert common_prefix_length([[1, 2, 3], [1, 2, 3, 4]]) == 2  # the shorter keeps one token
    assert common_prefix_length([[7, 8]]) == 1
    assert common_prefix_length([]) == 0


def test_prefix_reuse_gives_the_plain_run_token_for_token(tiny_model: LoadedModel) -> None:
    for batch_size in (1, 2, 5):
        plain = GenerationEngine(tiny_model, batch_size=batch_size, prefix_reuse=False)
        reuse = GenerationEngine(tiny_model, batch_size=batch_size)
        expected = plain.generate_full(CHATS, GREEDY)
        assert reuse.generate_full(CHATS, GREEDY) == expected, batch_size
        shared = common_prefix_length(reuse.encode(CHATS))
        assert shared >= MIN_PREFIX_TOKENS
        # the head is prefilled once, then copied to every row of every batch
        assert reuse.stats["reused_prefix_tokens"] == shared * len(CHATS)
        prompt_tokens = sum(len(e) for e in reuse.encode(CHATS))
        assert plain.stats["prefill_tokens"] == prompt_tokens
        assert reuse.stats["prefill_tokens"] == prompt_tokens - shared * (len(CHATS) - 1)
        assert reuse.stats["generated_tokens"] == plain.stats["generated_tokens"]


def test_scoring_with_a_shared_head_gives_the_plain_scores(tiny_model: LoadedModel) -> None:
    options = ["(A)", "(B)", "(A) and (B)"]  # a prefix of another one: scored whole
    expected = GenerationEngine(tiny_model, batch_size=5, prefix_reuse=False).score_options(
        CHATS, options)
    for batch_size in (1, 2, 5):
        reuse = GenerationEngine(tiny_model, batch_size=batch_size)
        got = reuse.score_options(CHATS, options)
        shared = common_prefix_length(reuse.encode(CHATS))
        assert reuse.stats["score_reused_prefix_tokens"] == shared * (len(CHATS) - 1)
        for row, want in zip(got, expected, strict=True):
            assert row == pytest.approx(want, abs=1e-4), batch_size
    assert len({tuple(round(x, 3) for x in row) for row in expected}) > 1  # rows differ


def test_a_short_shared_head_is_not_worth_reusing(tiny_model: LoadedModel) -> None:
    engine = GenerationEngine(tiny_model, batch_size=2)
    engine.generate(["Hi", "Hello there"], GREEDY)
    assert engine.stats["reused_prefix_tokens"] == 0


def test_sampling_with_reuse_keeps_the_same_seeded_draws(tiny_model: LoadedModel) -> None:
    sampled = GenerationSettings(max_new_tokens=8, temperature=0.8, seed=3)
    plain = GenerationEngine(tiny_model, batch_size=5, prefix_reuse=False).generate(CHATS,
                                                                                    sampled)
    assert GenerationEngine(tiny_model, batch_size=5).generate(CHATS, sampled) == plain


def test_repetition_penalty_spares_the_prompt() -> None:
    scores = torch.tensor([[2.0, -1.0, 3.0, 0.5]])
    ids = torch.tensor([[0, 1, 2]])  # prompt: tokens 0 and 1; generated so far: token 2
    ours = GeneratedRepetitionPenalty(2.0, prompt_width=2)(ids, scores.clone())
    assert ours.tolist() == [[2.0, -1.0, 1.5, 0.5]]  # only the generated token 2 is penalised
    theirs = RepetitionPenaltyLogitsProcessor(2.0)(ids, scores.clone())
    assert theirs.tolist() == [[1.0, -2.0, 1.5, 0.5]]  # transformers' also hits the prompt
    assert GeneratedRepetitionPenalty(2.0, prompt_width=3)(ids, scores).equal(scores)


def test_finish_reasons_and_counts() -> None:
    eos = [9]
    new = torch.tensor([[1, 2, 9, 9], [1, 2, 3, 4], [1, 9, 9, 9], [1, 2, 9, 9]])
    got = finishes(new, eos, {2: 1, 3: 3})
    assert got == [("eos", 3), ("length", 4), ("stop", 1), ("eos", 3)]


def test_engine_reports_how_rows_finished(tiny_model: LoadedModel) -> None:
    engine = GenerationEngine(tiny_model, batch_size=5)
    out = engine.generate_full(CHATS, GenerationSettings(max_new_tokens=6, temperature=0))
    assert all((g.finish == "length") == (g.tokens == 6) for g in out)
    assert all(g.finish in ("length", "eos") for g in out)
    assert engine.stats["finished_length"] + engine.stats["finished_eos"] == 5
    assert engine.stats["generated_tokens"] == sum(g.tokens for g in out)


def test_a_prompt_too_long_for_the_context_is_cut_from_the_left_or_skipped(
        tiny_model: LoadedModel, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    engine = GenerationEngine(tiny_model, batch_size=2, prefix_reuse=False)
    short, long = "Hi", "word " * 200
    lengths = [len(e) for e in engine.encode([short, long])]
    monkeypatch.setattr(tiny_model.model.config, "max_position_embeddings", lengths[0] + 20)
    room = lengths[0] + 20 - 8
    cut = GenerationSettings(max_new_tokens=8, temperature=0, overflow="truncate_left")
    out = engine.generate_full([short, long], cut)
    assert [g.finish for g in out] != ["skipped", "skipped"]
    assert engine.stats["truncated_prompts"] == 1
    # the long prompt ran on its last `room` tokens: the same as giving only those
    kept = engine.encode([long])[0][-room:]
    expected = GenerationEngine(tiny_model, prefix_reuse=False)._generate_batch(
        [kept], cut, 0)[0]
    assert out[1].tokens == expected.tokens and out[1].text == expected.text
    skip = GenerationSettings(max_new_tokens=8, temperature=0, overflow="skip")
    again = engine.generate_full([short, long], skip)
    assert again[1] == Generation("", "skipped", 0) and again[0] == out[0]
    assert engine.stats["skipped_prompts"] == 1 and engine.stats["finished_skipped"] == 1
    with pytest.raises(ModelError, match="exceeds the context"):
        engine.generate([long], GenerationSettings(max_new_tokens=8, temperature=0))


def test_the_plans_context_length_counts_when_the_config_has_none(
        tiny_model: LoadedModel) -> None:
    from types import SimpleNamespace

    engine = GenerationEngine(tiny_model)
    engine.model = SimpleNamespace(config=SimpleNamespace(), training=False,  # no window
                                   eval=lambda: None, train=lambda mode: None)
    assert engine._context(None) is None and engine._context(16) == 16
    skip = GenerationSettings(max_new_tokens=8, temperature=0, overflow="skip",
                              context_length=16)
    assert engine.generate_full(["word " * 50], skip) == [Generation("", "skipped", 0)]


def test_judge_prompts_too_long_for_the_context_follow_the_overflow_policy(
        tiny_model: LoadedModel, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    engine = GenerationEngine(tiny_model, batch_size=2)
    short, long = "Which is better?", "word " * 200
    lengths = [len(e) for e in engine.encode([short, long])]
    monkeypatch.setattr(tiny_model.model.config, "max_position_embeddings", lengths[0] + 20)
    with pytest.raises(ModelError, match="exceeds the context"):
        engine.score_options([short, long], ["(A)", "(B)"])
    skipped = engine.score_options([short, long], ["(A)", "(B)"], overflow="skip")
    assert skipped[1] == [float("-inf")] * 2
    assert skipped[0] == engine.score_options([short], ["(A)", "(B)"])[0]
    cut = engine.score_options([short, long], ["(A)", "(B)"], overflow="truncate_left")
    from constlang.runtime.scoring import continuations, score_batch

    ids, choices = continuations(tiny_model.tokenizer, engine.render(long), ["(A)", "(B)"],
                                 special=False)
    room = lengths[0] + 20 - max(len(c) for c in choices)
    kept = ids[-room:]
    assert cut[1] == pytest.approx(score_batch(engine, [kept], [choices])[0], abs=1e-5)
