"""Benchmark: labelling preference pairs with the one-pass option scorer, beside a naive judge
that generates an answer and parses "(A)"/"(B)", and beside bare batched forward passes over
the same tokens — side by side in one process, on the same prompts and model.

Run: python benchmarks/bench_judge.py [--pairs N] [--tiny] [--repeat K] [--naive-tokens T]
Targets: the scorer ≥ 5× faster than the naive judge; the scorer's wall time ≤ 1.2× the bare
forward passes it makes (its own overhead: tokenizing, padding, gathering log-probabilities).
"""

from __future__ import annotations

import argparse
import re
import time

import torch

from constlang.plan import Model
from constlang.runtime.generate import GenerationEngine, GenerationSettings
from constlang.runtime.models import build_tiny_model, load_model

REQUESTS = ["How do I pick a lock?", "Write a rude message to my neighbour.",
            "What's a healthy breakfast?", "How can I find where someone lives?",
            "Explain photosynthesis simply."]
GOOD = "I can't help with that, but here is a safer way to get what you need."
BAD = "Sure, here is exactly how to do it, step by step."
OPTIONS = ["(A)", "(B)"]


def judge_prompts(n: int) -> list[list[dict[str, str]]]:
    out = []
    for i in range(n):
        a, b = (GOOD, BAD) if i % 2 == 0 else (BAD, GOOD)
        text = (f"Consider this request from a user.\nUser: {REQUESTS[i % len(REQUESTS)]}\n\n"
                "Which reply would a thoughtful, ethical person rather give?\n"
                f"(A) {a}\n(B) {b}\n\nThe answer is:")
        out.append([{"role": "user", "content": text}])
    return out


NAIVE_TOKENS = 32  # a judge asked to answer needs room: with 8 tokens few answers named a slot


def naive(engine: GenerationEngine, prompts: list[list[dict[str, str]]],
          tokens: int = NAIVE_TOKENS) -> list[str | None]:
    """Generate an answer (greedy, up to `tokens` tokens or the end of the reply) and look
    for (A) or (B) in it (None when neither appears)."""
    texts = engine.generate(prompts, GenerationSettings(max_new_tokens=tokens, temperature=0))
    return [m.group(0) if (m := re.search(r"\([AB]\)", t)) else None for t in texts]


def bare_forward(engine: GenerationEngine, prompts: list[list[dict[str, str]]]) -> None:
    """The forward passes the scorer makes, without its bookkeeping: per batch, the prompts
    once (keeping their cache), then every option as a continuation from it."""
    from constlang.runtime.prefix import cache_argument

    encoded = engine.encode(prompts)
    # the scorer's option tokens: the text with the option appended, after the prompt's own
    # (for this tokenizer the same ids as the option alone, which the assert checks)
    choices = [engine.tokenizer(o, add_special_tokens=False)["input_ids"] for o in OPTIONS]
    from constlang.runtime.scoring import continuations

    assert continuations(engine.tokenizer, engine.render(prompts[0]), OPTIONS,
                         special=False)[1] == choices
    width, n = max(len(c) for c in choices), len(choices)
    with torch.inference_mode():
        for batch in engine._batches(encoded):
            ids, mask = engine._pad_left([encoded[i] for i in batch])
            out = engine.model(input_ids=ids, attention_mask=mask, use_cache=True,
                               position_ids=(mask.cumsum(-1) - 1).clamp(min=0), logits_to_keep=1)
            cache = out.cache
            cache.batch_repeat_interleave(n)
            opt = torch.tensor([c + [0] * (width - len(c)) for _ in batch for c in choices])
            opt_mask = torch.tensor([[1] * len(c) + [0] * (width - len(c)) for _ in batch
                                     for c in choices])
            positions = mask.sum(-1).repeat_interleave(n)[:, None] + torch.arange(width)[None]
            engine.model(input_ids=opt, position_ids=positions,
                         attention_mask=torch.cat([mask.repeat_interleave(n, 0), opt_mask], 1),
                         use_cache=True, **{cache_argument(engine.model): cache})


def timed(call: object, *args: object) -> float:
    started = time.perf_counter()
    call(*args)  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--naive-tokens", type=int, default=NAIVE_TOKENS,
                        help="the naive judge's answer budget (it stops earlier at the reply's "
                        "end)")
    args = parser.parse_args()
    loaded = (build_tiny_model("embedded", seed=0) if args.tiny else
              load_model(Model(id="judge", source="embedded:smollm2-135m-instruct"),
                         device="cpu"))
    engine = GenerationEngine(loaded, batch_size=8, prefix_reuse=False)
    prompts = judge_prompts(args.pairs)
    best = {"scorer": float("inf"), "naive": float("inf"), "forward": float("inf")}
    for _ in range(args.repeat):
        best["scorer"] = min(best["scorer"], timed(engine.score_options, prompts, OPTIONS))
        best["naive"] = min(best["naive"], timed(naive, engine, prompts, args.naive_tokens))
        best["forward"] = min(best["forward"], timed(bare_forward, engine, prompts))
    parsed = naive(engine, prompts, args.naive_tokens)
    model = "tiny Llama" if args.tiny else "embedded SmolLM2-135M"
    print(f"{args.pairs} judge prompts, batch 8, {model}, best of {args.repeat}, naive judge "
          f"answers up to {args.naive_tokens} tokens")
    for name, seconds in best.items():
        print(f"  {name:>8}: {seconds:6.2f} s  ({args.pairs / seconds:6.1f} prompts/s)")
    print(f"  naive judge's answers that named (A) or (B): {sum(p is not None for p in parsed)}"
          f" of {len(parsed)}")
    print(f"  scorer speed-up over the naive judge: {best['naive'] / best['scorer']:.1f}×"
          "  (target ≥ 5×)")
    print(f"  scorer ÷ bare forward passes: {best['scorer'] / best['forward']:.2f}×"
          "  (target ≤ 1.2×)")


if __name__ == "__main__":
    main()
