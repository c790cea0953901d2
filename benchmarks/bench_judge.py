"""Benchmark: labelling preference pairs with the one-pass option scorer, beside a naive judge
that generates an answer and parses "(A)"/"(B)", and beside bare batched forward passes over
the same tokens — side by side in one process, on the same prompts and model.

Run: python benchmarks/bench_judge.py [--pairs N] [--tiny | --random-135m] [--repeat K]
       [--naive-tokens T,...] [--reuse on|off|both] [--device cpu|cuda]
Targets: the scorer ≥ 5× faster than the naive judge; the scorer's wall time ≤ 1.2× the bare
forward passes it makes (its own overhead: tokenizing, padding, gathering log-probabilities).
The speed-up is printed per prompt and per label: the scorer labels every prompt, the naive
judge only those whose answer names a slot. Prefix reuse is the same for all three methods.
--random-135m: SmolLM2-135M's config with random weights (where the embedded weights are not
installed: the GPU check); its naive answers are exactly T tokens (a speed figure, no labels).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import torch

from constlang.plan import Model
from constlang.runtime.generate import GenerationEngine, GenerationSettings
from constlang.runtime.models import load_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' tiny model
from runtime.tiny import build_135m_shaped, build_tiny_model  # noqa: E402

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
          tokens: int = NAIVE_TOKENS, fixed: bool = False) -> list[str | None]:
    """Generate an answer (greedy, up to `tokens` tokens or the end of the reply; exactly
    `tokens` when `fixed`) and look for (A) or (B) in it (None when neither appears)."""
    texts = engine.generate(prompts, GenerationSettings(
        max_new_tokens=tokens, min_new_tokens=tokens if fixed else 0, temperature=0))
    return [m.group(0) if (m := re.search(r"\([AB]\)", t)) else None for t in texts]


def bare_forward(engine: GenerationEngine, prompts: list[list[dict[str, str]]]) -> None:
    """The forward passes the scorer makes, without its bookkeeping: the shared head once when
    the engine reuses it, then per batch the prompts (keeping their cache), then every option
    as a continuation from it."""
    from constlang.runtime.prefix import (
        MIN_PREFIX_TOKENS,
        SharedPrefix,
        cache_argument,
        common_prefix_length,
        layout,
    )

    encoded = engine.encode(prompts)
    # the scorer's option tokens: the text with the option appended, after the prompt's own
    # (for this tokenizer the same ids as the option alone, which the assert checks)
    choices = [engine.tokenizer(o, add_special_tokens=False)["input_ids"] for o in OPTIONS]
    from constlang.runtime.scoring import continuations

    assert continuations(engine.tokenizer, engine.render(prompts[0]), OPTIONS,
                         special=False)[1] == choices
    width, n = max(len(c) for c in choices), len(choices)
    head = common_prefix_length(encoded) if engine.prefix_reuse else 0
    pad = engine.tokenizer.pad_token_id
    dev = engine.loaded.device
    with torch.inference_mode():
        shared = SharedPrefix(engine.model, encoded[0][:head], dev) \
            if head >= MIN_PREFIX_TOKENS else None
        for batch in engine._batches(encoded):
            if shared is not None:
                ids, mask = layout(shared.ids, [encoded[i][head:] for i in batch], pad, dev)
                positions = (mask.cumsum(-1) - 1).clamp(min=0)
                out = engine.model(input_ids=ids[:, head:], attention_mask=mask,
                                   position_ids=positions[:, head:], use_cache=True,
                                   logits_to_keep=1, **shared.for_batch(len(batch)))
            else:
                ids, mask = engine._pad_left([encoded[i] for i in batch])
                out = engine.model(input_ids=ids, attention_mask=mask, use_cache=True,
                                   position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                                   logits_to_keep=1)
            cache = out.cache
            cache.batch_repeat_interleave(n)
            opt = torch.tensor([c + [0] * (width - len(c)) for _ in batch for c in choices],
                               device=dev)
            opt_mask = torch.tensor([[1] * len(c) + [0] * (width - len(c)) for _ in batch
                                     for c in choices], device=dev)
            positions = (mask.sum(-1).repeat_interleave(n)[:, None]
                         + torch.arange(width, device=dev)[None])
            engine.model(input_ids=opt, position_ids=positions,
                         attention_mask=torch.cat([mask.repeat_interleave(n, 0), opt_mask], 1),
                         use_cache=True, **{cache_argument(engine.model): cache})


def timed(call: object, *args: object) -> float:
    """Wall time of one call (on a GPU, after its queued work has finished)."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    sync()
    started = time.perf_counter()
    call(*args)  # type: ignore[operator]
    sync()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict[tuple[bool, int], dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--random-135m", action="store_true",
                        help="SmolLM2-135M's config, random weights, fixed answer lengths")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--naive-tokens", default=str(NAIVE_TOKENS),
                        help="the naive judge's answer budget(s), comma-separated (it stops "
                        "earlier at the reply's end)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the GPU measurement #9 "
                        "still needs: python benchmarks/bench_judge.py --device cuda)")
    parser.add_argument("--reuse", choices=["on", "off", "both"], default="both",
                        help="prefix reuse (the head every judge prompt shares, run once) for "
                        "all three methods alike")
    args = parser.parse_args(argv)
    fixed = args.random_135m
    loaded = (build_tiny_model("embedded", seed=0, device=args.device) if args.tiny else
              build_135m_shaped(device=args.device) if fixed else
              load_model(Model(id="judge", source="embedded:smollm2-135m-instruct"),
                         device=args.device))
    prompts = judge_prompts(args.pairs)
    budgets = [int(t) for t in args.naive_tokens.split(",")]
    modes = {"on": [True], "off": [False], "both": [False, True]}[args.reuse]
    model = ("tiny Llama" if args.tiny else "SmolLM2-135M-shaped, random weights" if fixed
             else "embedded SmolLM2-135M") + f" on {loaded.device}"
    results: dict[tuple[bool, int], dict[str, float]] = {}
    for reuse in modes:
        engine = GenerationEngine(loaded, batch_size=8, prefix_reuse=reuse)
        best = {"scorer": float("inf"), "forward": float("inf")}
        naive_best = dict.fromkeys(budgets, float("inf"))
        for _ in range(args.repeat):
            best["scorer"] = min(best["scorer"], timed(engine.score_options, prompts, OPTIONS))
            for t in budgets:
                naive_best[t] = min(naive_best[t], timed(naive, engine, prompts, t, fixed))
            best["forward"] = min(best["forward"], timed(bare_forward, engine, prompts))
        print(f"{args.pairs} judge prompts, batch 8, {model}, best of {args.repeat}, prefix "
              f"reuse {'on' if reuse else 'off'}")
        print(f"  {'scorer':>16}: {best['scorer']:6.2f} s  "
              f"({args.pairs / best['scorer']:6.1f} prompts/s, every one labelled)")
        print(f"  {'bare forward':>16}: {best['forward']:6.2f} s  (scorer ÷ forward "
              f"{best['scorer'] / best['forward']:.2f}×, target ≤ 1.2×)")
        for t in budgets:
            named = sum(p is not None for p in naive(engine, prompts, t, fixed))
            seconds = naive_best[t]
            per_prompt = seconds / best["scorer"]
            # a label is a verdict: the scorer gives one per prompt, the naive judge only when
            # its answer names a slot
            per_label = ((seconds / named) / (best["scorer"] / args.pairs) if named
                         else float("inf"))
            label = f"{per_label:.1f}× per label" if named else "no label at all"
            print(f"  {f'naive, {t} tokens':>16}: {seconds:6.2f} s  ({args.pairs / seconds:6.1f}"
                  f" prompts/s, {named} of {args.pairs} named a slot)  scorer speed-up "
                  f"{per_prompt:.1f}× per prompt, {label} (target ≥ 5×)")
            results[(reuse, t)] = {"scorer": best["scorer"], "forward": best["forward"],
                                   "naive": seconds, "named": named,
                                   "per_prompt": per_prompt, "per_label": per_label}
    return results


if __name__ == "__main__":
    main()
