"""Generation and option scoring on a real tiny model: order, batching, stops, seeds, chats."""

from __future__ import annotations

import math

import pytest
import torch

from constlang.runtime.generate import (
    GenerationEngine,
    GenerationSettings,
    truncate_at_stop,
)
from constlang.runtime.models import LoadedModel, ModelError

from .tiny import build_tiny_model

PROMPTS = [
    "Hello",
    "What is the capital of France? Please answer briefly.",
    "x",
    "Tell me a story about a dragon and a knight who become friends.",
    "Why?",
    "How do I bake bread at home without yeast?",
    "ok",
]
GREEDY = GenerationSettings(max_new_tokens=12, temperature=0)


def test_batching_and_length_sorting_do_not_change_greedy_outputs(tiny_model: LoadedModel) -> None:
    one_by_one = GenerationEngine(tiny_model, batch_size=1).generate(PROMPTS, GREEDY)
    batched = GenerationEngine(tiny_model, batch_size=4).generate(PROMPTS, GREEDY)
    assert batched == one_by_one
    assert len(batched) == len(PROMPTS) and len(set(batched)) == len(PROMPTS)
    # Input order: each output is the one its prompt gets alone.
    alone = GenerationEngine(tiny_model, batch_size=4).generate([PROMPTS[3]], GREEDY)
    assert alone == [batched[3]]


def test_batches_are_sorted_longest_first_and_cover_every_prompt(tiny_model: LoadedModel) -> None:
    engine = GenerationEngine(tiny_model, batch_size=3)
    encoded = engine.encode(PROMPTS)
    batches = engine._batches(encoded)
    assert [len(b) for b in batches] == [3, 3, 1]
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(PROMPTS)))
    lengths = [len(encoded[i]) for i in flat]
    assert lengths == sorted(lengths, reverse=True)


def test_output_is_the_decoded_new_tokens_only(tiny_model: LoadedModel) -> None:
    engine = GenerationEngine(tiny_model)
    [text] = engine.generate([PROMPTS[1]], GREEDY)
    rendered = engine.render(PROMPTS[1])
    ids = tiny_model.tokenizer(rendered, add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        out = tiny_model.model.generate(**ids, max_new_tokens=12, do_sample=False,
                                        pad_token_id=tiny_model.tokenizer.pad_token_id)
    new = out[0, ids["input_ids"].shape[1]:]
    assert text == tiny_model.tokenizer.decode(new, skip_special_tokens=True)
    assert "<|im_start|>" not in text and "France" not in text


def tokens_until_stop(loaded: LoadedModel, prompt: str, stops: tuple[str, ...]) -> int:
    """How many greedy tokens the prompt gets, alone, until its new text holds a stop string."""
    tokenizer = loaded.tokenizer
    ids = tokenizer(GenerationEngine(loaded).render(prompt), add_special_tokens=False,
                    return_tensors="pt")
    with torch.inference_mode():
        out = loaded.model.generate(**ids, max_new_tokens=16, min_new_tokens=16, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id)
    new = out[0, ids["input_ids"].shape[1]:].tolist()
    return next((k for k in range(1, len(new) + 1)
                 if any(s in tokenizer.decode(new[:k], skip_special_tokens=True) for s in stops)),
                len(new))


def test_stop_sequences_truncate_and_end_generation_early(tiny_model: LoadedModel) -> None:
    engine = GenerationEngine(tiny_model, batch_size=2)
    full_settings = GenerationSettings(max_new_tokens=16, min_new_tokens=16, temperature=0)
    full = engine.generate(PROMPTS[:2], full_settings)
    tokens_full = engine.stats["generated_tokens"]
    assert tokens_full == 2 * 16
    stops = (full[0][10:14], full[1][8:11])  # strings that occur early in each output
    cut = engine.generate(PROMPTS[:2], GenerationSettings(
        max_new_tokens=16, min_new_tokens=16, temperature=0, stop=stops))
    assert cut == [truncate_at_stop(full[0], stops), truncate_at_stop(full[1], stops)]
    assert all(len(c) < len(f) for c, f in zip(cut, full, strict=True))
    # each row stopped at the token that completed a stop string
    expected = [tokens_until_stop(tiny_model, p, stops) for p in PROMPTS[:2]]
    assert engine.stats["generated_tokens"] - tokens_full == sum(expected) < tokens_full


def test_generated_tokens_of_a_row_stopped_before_its_batch_ends(
        tiny_model: LoadedModel) -> None:
    engine = GenerationEngine(tiny_model, batch_size=2)
    full = engine.generate(PROMPTS[:2], GenerationSettings(max_new_tokens=16, min_new_tokens=16,
                                                           temperature=0))
    stops = (full[0][10:14],)  # only in the first output: the second runs all 16 tokens
    assert stops[0] not in full[1]
    engine.stats["generated_tokens"] = 0
    engine.generate(PROMPTS[:2], GenerationSettings(max_new_tokens=16, min_new_tokens=16,
                                                    temperature=0, stop=stops))
    assert engine.stats["generated_tokens"] == tokens_until_stop(tiny_model, PROMPTS[0],
                                                                 stops) + 16


def test_truncate_at_stop_cuts_at_the_earliest_stop() -> None:
    assert truncate_at_stop("a. b\nc", ("\n", ".")) == "a"
    assert truncate_at_stop("abc", ("x",)) == "abc"


def test_same_seed_same_samples_and_caller_rng_untouched(tiny_model: LoadedModel) -> None:
    engine = GenerationEngine(tiny_model, batch_size=2)
    settings = GenerationSettings(max_new_tokens=10, temperature=1.0, top_p=0.9, seed=7)
    state = torch.get_rng_state()
    first = engine.generate(PROMPTS, settings)
    assert torch.equal(torch.get_rng_state(), state)
    assert engine.generate(PROMPTS, settings) == first
    other = engine.generate(PROMPTS, GenerationSettings(max_new_tokens=10, temperature=1.0,
                                                        top_p=0.9, seed=8))
    assert other != first
    assert first != engine.generate(PROMPTS, GenerationSettings(max_new_tokens=10, temperature=0))


def test_a_checkpoints_own_sampling_defaults_do_not_change_what_is_drawn() -> None:
    plain = build_tiny_model("embedded", seed=0)
    opinionated = build_tiny_model("embedded", seed=0)
    config = opinionated.model.generation_config
    config.repetition_penalty, config.no_repeat_ngram_size, config.top_k = 10.0, 1, 1
    config.num_beams, config.typical_p = 3, 0.2  # what a hub model's file may carry
    sampled = GenerationSettings(max_new_tokens=12, temperature=0.9, seed=5)
    for settings in (GREEDY, sampled):
        want = GenerationEngine(plain, batch_size=2).generate(PROMPTS, settings)
        assert GenerationEngine(opinionated, batch_size=2).generate(PROMPTS, settings) == want
    assert opinionated.model.generation_config.num_beams == 3  # put back afterwards
    # the same through PEFT (PPO with lora): the draw, and the config a saved model keeps
    from peft import LoraConfig, get_peft_model

    wrapped = build_tiny_model("embedded", seed=0)
    wrapped.model.generation_config.repetition_penalty = 10.0
    wrapped.model.generation_config.num_beams = 3
    wrapped.model = get_peft_model(wrapped.model, LoraConfig(r=2, target_modules=["q_proj"]))
    want = GenerationEngine(plain, batch_size=2).generate(PROMPTS, GREEDY)
    assert GenerationEngine(wrapped, batch_size=2).generate(PROMPTS, GREEDY) == want
    merged = wrapped.model.merge_and_unload()
    assert merged.generation_config.repetition_penalty == 10.0
    assert merged.generation_config.num_beams == 3
    # and the defaults would have changed the draw: transformers fills unset settings from them
    ids = plain.tokenizer(PROMPTS[0], return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        own = opinionated.model.generate(ids, max_new_tokens=12, do_sample=False)
        neutral = plain.model.generate(ids, max_new_tokens=12, do_sample=False)
    assert not torch.equal(own, neutral)


def test_chat_prompts_use_the_chat_template(tiny_model: LoadedModel) -> None:
    engine = GenerationEngine(tiny_model)
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Why?"}]
    rendered = engine.render(chat)
    assert rendered.startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert rendered.endswith("<|im_start|>user\nWhy?<|im_end|>\n<|im_start|>assistant\n")
    assert engine.render("Why?") == engine.render([{"role": "user", "content": "Why?"}])
    chats = [chat, [{"role": "user", "content": "Why?"}]]
    texts = engine.generate(chats, GREEDY)
    assert texts[1] == engine.generate(["Why?"], GREEDY)[0] and texts[0] != texts[1]


def test_plain_text_mode_reads_the_prompt_as_is(tiny_model: LoadedModel) -> None:
    engine = GenerationEngine(tiny_model, use_chat_template=False)
    assert engine.render("Q: 2+2?\nA:") == "Q: 2+2?\nA:"
    [text] = engine.generate(["Q: 2+2?\nA:"], GREEDY)
    tokenizer = tiny_model.tokenizer
    ids = tokenizer("Q: 2+2?\nA:", return_tensors="pt")  # as is: no template around it
    with torch.inference_mode():
        out = tiny_model.model.generate(**ids, max_new_tokens=12, do_sample=False,
                                        pad_token_id=tokenizer.pad_token_id)
    assert text == tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert text != GenerationEngine(tiny_model).generate(["Q: 2+2?\nA:"], GREEDY)[0]


def test_progress_stats_and_training_flag(tiny_model: LoadedModel) -> None:
    engine = GenerationEngine(tiny_model, batch_size=3)
    seen: list[int] = []
    tiny_model.model.train()
    try:
        engine.generate(PROMPTS, GenerationSettings(max_new_tokens=5, min_new_tokens=5,
                                                    temperature=0), progress=seen.append)
        assert tiny_model.model.training  # restored after generating in eval mode
    finally:
        tiny_model.model.eval()
    assert seen == [3, 3, 1]
    assert engine.stats["calls"] == 1 and engine.stats["prompts"] == len(PROMPTS)
    assert engine.stats["generated_tokens"] == 5 * len(PROMPTS)
    assert engine.stats["prompt_tokens"] == sum(len(e) for e in engine.encode(PROMPTS))
    assert engine.generate([], GREEDY) == []


def test_prompt_longer_than_the_context_is_a_model_error(embedded_dir: object) -> None:
    short = build_tiny_model("embedded", max_position_embeddings=32)
    with pytest.raises(ModelError, match="exceeds the context"):
        GenerationEngine(short).generate(["word " * 40], GREEDY)


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        GenerationSettings(max_new_tokens=0)
    with pytest.raises(ValueError):
        GenerationSettings(min_new_tokens=9, max_new_tokens=8)
    with pytest.raises(ValueError):
        GenerationSettings(stop=("",))


def manual_logprob(loaded: LoadedModel, prompt_ids: list[int], option_ids: list[int]) -> float:
    ids = torch.tensor([prompt_ids + option_ids])
    with torch.inference_mode():
        logprobs = torch.log_softmax(loaded.model(ids).logits[0].float(), dim=-1)
    start = len(prompt_ids)
    return sum(float(logprobs[start + k - 1, t]) for k, t in enumerate(option_ids))


def test_score_options_matches_one_example_at_a_time(tiny_model: LoadedModel) -> None:
    engine = GenerationEngine(tiny_model, batch_size=2)
    prompts = PROMPTS[:3]
    options = ["(A)", "(B)", " No, never."]
    scores = engine.score_options(prompts, options)
    assert len(scores) == len(prompts) and all(len(row) == len(options) for row in scores)
    tok = tiny_model.tokenizer
    for i, row in enumerate(scores):
        text = engine.render(prompts[i])
        prompt_ids = tok(text, add_special_tokens=False)["input_ids"]
        conts = []
        for o in options:  # the option's tokens: the text with it appended, after the prompt
            full = tok(text + o, add_special_tokens=False)["input_ids"]
            assert full[:len(prompt_ids)] == prompt_ids
            conts.append(full[len(prompt_ids):])
        # (A) and (B) share "(", so each counts "(" and its letter; " No, never." counts one
        counts = [2, 2, 1]
        assert conts[0][0] == conts[1][0] and conts[0][1] != conts[1][1]
        assert conts[2][0] != conts[0][0]
        manual = [manual_logprob(tiny_model, prompt_ids, c[:n]) for c, n in zip(
            conts, counts, strict=True)]
        assert all(math.isfinite(s) and s < 0 for s in row)
        assert row == pytest.approx(manual, abs=1e-3)
    assert engine.stats["score_calls"] == 1 and engine.stats["calls"] == 0


@pytest.mark.cuda
def test_greedy_generation_on_cuda_matches_cpu(tiny_model: LoadedModel) -> None:
    gpu = build_tiny_model("embedded", seed=0, device="cuda")
    on_gpu = GenerationEngine(gpu, batch_size=4).generate(PROMPTS, GREEDY)
    assert on_gpu == GenerationEngine(tiny_model, batch_size=4).generate(PROMPTS, GREEDY)
    scores = GenerationEngine(gpu).score_options(PROMPTS[:2], ["(A)", "(B)"])
    on_cpu = GenerationEngine(tiny_model).score_options(PROMPTS[:2], ["(A)", "(B)"])
    assert len(scores) == len(on_cpu) == 2
    for row, cpu in zip(scores, on_cpu, strict=True):
        assert row == pytest.approx(cpu, abs=1e-3)
