"""Option scoring across tokenizer families, built offline: a SentencePiece-style tokenizer
(leading-space marker ▁) with a chat template, a byte-level BPE without one (where a prompt's
trailing space merges into the option), and a template that opens a thinking block. In each,
an option's tokens are those of the prompt's text with the option appended, and its score is
exactly a plain forward pass over those tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from constlang.runtime.generate import GenerationEngine
from constlang.runtime.models import LoadedModel
from constlang.runtime.scoring import continuations, scored_lengths

from .tiny import build_tiny_model

CORPUS = [
    "Is the reply harmful? Answer Yes or No. Yes. No. Yes, it is. No, it is not.",
    "Which reply is better? (A) or (B). The answer is (A). The answer is (B).",
    "Answer: Yes Answer: No Answer: (A) Answer: (B) user assistant think",
] * 20
SPECIALS = ["<s>", "</s>", "<pad>", "[INST]", "[/INST]", "<think>", "</think>"]
LLAMA2_TEMPLATE = ("{% for m in messages %}{% if m['role'] == 'user' %}<s>[INST] "
                   "{{ m['content'] }} [/INST]{% else %} {{ m['content'] }}</s>{% endif %}"
                   "{% endfor %}")
THINKING_TEMPLATE = ("{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>\n"
                     "{% endfor %}{% if add_generation_prompt %}<s>assistant\n<think>\n\n"
                     "</think>\n\n{% endif %}")


def make_tokenizer(folder: Path, family: str, template: str | None) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    if family == "sentencepiece":
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet() if family == "bytelevel" else []
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS,
                                  initial_alphabet=alphabet)
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>")
    if template:
        fast.chat_template = template
    fast.save_pretrained(folder)
    return folder


def model_for(tmp_path: Path, family: str, template: str | None) -> LoadedModel:
    return build_tiny_model(make_tokenizer(tmp_path / family, family, template), seed=3)


def forward_logprob(loaded: LoadedModel, prompt_ids: list[int], option_ids: list[int]) -> float:
    ids = torch.tensor([prompt_ids + option_ids])
    with torch.inference_mode():
        logprobs = torch.log_softmax(loaded.model(ids).logits[0].float(), dim=-1)
    return sum(float(logprobs[len(prompt_ids) + k - 1, t]) for k, t in enumerate(option_ids))


def check_scores(loaded: LoadedModel, prompts: list[Any], options: list[str]) -> list[
        list[list[int]]]:
    """Score with the engine; compare with a forward pass over each prompt's text + option;
    return each prompt's option continuations."""
    engine = GenerationEngine(loaded, batch_size=2)
    scores = engine.score_options(prompts, options)
    tok, special = loaded.tokenizer, not engine.use_chat_template
    out = []
    for prompt, row in zip(prompts, scores, strict=True):
        text = engine.render(prompt)
        fulls = [tok(text + o, add_special_tokens=special)["input_ids"] for o in options]
        own = tok(text, add_special_tokens=special)["input_ids"]
        cut = len(own)  # where every option's text leaves the prompt's own tokens
        for f in fulls:
            cut = min(cut, next((i for i, (x, y) in enumerate(zip(f, own, strict=False))
                                 if x != y), min(len(f), len(own))))
        conts = [f[cut:] for f in fulls]
        manual = [forward_logprob(loaded, fulls[0][:cut], c[:n])
                  for c, n in zip(conts, scored_lengths(conts), strict=True)]
        assert row == pytest.approx(manual, abs=1e-4)
        out.append(conts)
    return out


def test_sentencepiece_options_are_tokenized_in_context(tmp_path: Path) -> None:
    loaded = model_for(tmp_path, "sentencepiece", LLAMA2_TEMPLATE)
    tok = loaded.tokenizer
    alone = tok("Yes", add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(alone)[0].startswith("▁")  # the marker, alone
    conts = check_scores(loaded, ["Is it harmful?", "Which is better?"], ["Yes", "No"])
    in_context = conts[0][0]
    assert in_context != alone  # after "[/INST]" there is no space: no marker
    assert not tok.convert_ids_to_tokens(in_context)[0].startswith("▁")
    # the option continues the prompt: prompt ids + option ids are the text's ids
    text = GenerationEngine(loaded).render("Is it harmful?")
    assert tok(text + "Yes", add_special_tokens=False)["input_ids"][-len(in_context):] == \
        in_context


def test_bytelevel_without_a_template_moves_a_merged_space_into_the_options(
        tmp_path: Path) -> None:
    loaded = model_for(tmp_path, "bytelevel", None)
    engine = GenerationEngine(loaded)
    assert not engine.has_chat_template
    tok = loaded.tokenizer
    prompt = "Is the reply harmful? Answer: "  # the trailing space joins the option's token
    own = tok(prompt)["input_ids"]
    split_prompt, conts = continuations(tok, prompt, ["Yes", "No"], special=True)
    assert split_prompt == own[:-1] and tok.convert_ids_to_tokens(own[-1:]) == ["Ġ"]
    assert tok.convert_ids_to_tokens(conts[0][:1]) == ["ĠYes"]
    check_scores(loaded, [prompt, "Which reply is better? The answer is"], [" (A)", " (B)"])


def test_a_thinking_block_in_the_template_is_part_of_the_prompt(tmp_path: Path) -> None:
    loaded = model_for(tmp_path, "bytelevel", THINKING_TEMPLATE)
    text = GenerationEngine(loaded).render("Is it harmful?")
    assert text.endswith("<think>\n\n</think>\n\n")
    conts = check_scores(loaded, ["Is it harmful?"], ["Yes", "No"])
    assert all(c for c in conts[0])


def test_options_count_up_to_their_first_distinguishing_token() -> None:
    assert scored_lengths([[1, 2, 3], [1, 4, 3], [5, 6]]) == [2, 2, 1]
    assert scored_lengths([[7], [8, 9, 9, 9]]) == [1, 1]  # a longer option is not penalised
    assert scored_lengths([[1, 2], [1, 2, 3]]) == [2, 3]  # a prefix of another counts whole
