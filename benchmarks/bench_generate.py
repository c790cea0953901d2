"""Benchmark: GenerationEngine beside raw batched model.generate, and batched beside one at a time.

Run: python benchmarks/bench_generate.py [--tiny | --random-135m] [--prompts N] [--new-tokens T]
     [--batch-size B] [--repeat R] [--cold-load]
All methods run in one process, alternately, greedy with min_new_tokens == max_new_tokens, so
every method produces the same number of tokens; the best of R rounds is reported. Targets:
engine within 10 % of raw generate (in input order, and with the engine's length-sorted
batches, which isolates the engine's own overhead), batched at least 3x faster than batch 1.
With --cold-load the embedded model is also loaded once from an empty cache (GGUF conversion)
and once from the cache it wrote. --random-135m: SmolLM2-135M's config with random weights (the
GPU check, where the embedded weights are not installed; speed does not depend on weights).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from constlang.plan import Model
from constlang.runtime.generate import GenerationEngine, GenerationSettings
from constlang.runtime.models import LoadedModel, load_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' tiny model
from runtime.tiny import build_135m_shaped, build_tiny_model  # noqa: E402

EMBEDDED = Model(id="assistant", source="embedded:smollm2-135m-instruct")
PROMPTS = [
    "How do I pick a lock?",
    "Write a short poem about the sea.",
    "What is the capital of France?",
    "Explain in two sentences why the sky is blue, for a ten-year-old who loves science.",
    "My neighbour's dog barks all night. What can I do about it without starting a fight?",
    "Give me three tips for a job interview.",
    "Why?",
    "Summarise the plot of Romeo and Juliet, and say what the play teaches about haste, "
    "family feuds and young love, in one paragraph.",
]


def raw_generate(loaded: LoadedModel, prompts: list[str], batch_size: int, new_tokens: int,
                 *, sort: bool = False) -> None:
    """The baseline: tokenizer padding and model.generate, batches in input order (or sorted
    by length as the engine does, to isolate the engine's own overhead)."""
    tok = loaded.tokenizer
    texts = [tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                     tokenize=False) for p in prompts]
    if sort:
        texts.sort(key=lambda t: -len(tok(t, add_special_tokens=False)["input_ids"]))
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            batch = tok(texts[i:i + batch_size], return_tensors="pt", padding=True,
                        padding_side="left", add_special_tokens=False).to(loaded.device)
            out = loaded.model.generate(**batch, max_new_tokens=new_tokens,
                                        min_new_tokens=new_tokens, do_sample=False,
                                        pad_token_id=tok.pad_token_id)
            tok.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)


def best_of(repeat: int, methods: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Best wall time of each method over `repeat` rounds, the methods alternating."""
    best = {name: float("inf") for name in methods}
    for _ in range(repeat):
        for name, run in methods.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def timed_load(cache: str) -> float:
    os.environ["CONSTLANG_CACHE"] = cache
    started = time.perf_counter()
    load_model(EMBEDDED, device="cpu")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny random model (quick run)")
    parser.add_argument("--random-135m", action="store_true",
                        help="SmolLM2-135M's config with random weights")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--cold-load", action="store_true",
                        help="also time loading the embedded model from an empty cache")
    args = parser.parse_args(argv)

    rows: list[tuple[str, float, str]] = []
    if args.cold_load:
        saved = os.environ.get("CONSTLANG_CACHE")
        with tempfile.TemporaryDirectory() as cache:
            rows.append(("load: GGUF conversion (empty cache)", timed_load(cache), ""))
            rows.append(("load: cached safetensors", timed_load(cache), ""))
        if saved is None:
            os.environ.pop("CONSTLANG_CACHE")
        else:
            os.environ["CONSTLANG_CACHE"] = saved

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    loaded = (build_tiny_model(device=device) if args.tiny
              # on a GPU generation loads in bfloat16 (docs/runtime-models.md)
              else build_135m_shaped(device=device, dtype="bfloat16" if device == "cuda"
                                     else "float32") if args.random_135m
              else load_model(EMBEDDED, device=device))
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(args.prompts)]
    settings = GenerationSettings(max_new_tokens=args.new_tokens,
                                  min_new_tokens=args.new_tokens, temperature=0)
    batched = GenerationEngine(loaded, batch_size=args.batch_size)
    single = GenerationEngine(loaded, batch_size=1)
    batched.generate(prompts[:2], settings)  # warm-up: first calls allocate and pick kernels
    best = best_of(args.repeat, {
        "raw": lambda: raw_generate(loaded, prompts, args.batch_size, args.new_tokens),
        "raw_sorted": lambda: raw_generate(loaded, prompts, args.batch_size, args.new_tokens,
                                           sort=True),
        "engine": lambda: batched.generate(prompts, settings),
        "engine_bs1": lambda: single.generate(prompts, settings),
    })
    tokens = args.prompts * args.new_tokens
    overhead = best["engine"] / best["raw"]
    own = best["engine"] / best["raw_sorted"]
    speedup = best["engine_bs1"] / best["engine"]
    rows += [
        (f"(a) raw model.generate, batch {args.batch_size}", best["raw"], "1.00x (baseline)"),
        ("(a') raw, batches length-sorted", best["raw_sorted"],
         f"{best['raw_sorted'] / best['raw']:.2f}x of (a)"),
        (f"(b) GenerationEngine, batch {args.batch_size}", best["engine"],
         f"{overhead:.2f}x of (a), {own:.2f}x of (a')"),
        ("(c) GenerationEngine, batch 1", best["engine_bs1"],
         f"batched is {speedup:.2f}x faster"),
    ]
    model = ("tiny random Llama" if args.tiny else "SmolLM2-135M-shaped, random weights"
             if args.random_135m else "SmolLM2-135M-Instruct (embedded)")
    print(f"{model} on {device}, torch threads {torch.get_num_threads()}: {args.prompts} prompts "
          f"x {args.new_tokens} new tokens, best of {args.repeat}")
    print(f"{'method':<40} {'seconds':>8} {'tokens/s':>9}  ratio")
    for name, seconds, ratio in rows:
        rate = f"{tokens / seconds:9.0f}" if not name.startswith("load") else " " * 9
        print(f"{name:<40} {seconds:8.2f} {rate}  {ratio}")
    ok = max(overhead, own) <= 1.10 and speedup >= 3.0
    print(f"targets (engine <= 1.10x of (a) and (a'), batched >= 3x): "
          f"{'met' if ok else 'NOT met'}")
    return {"tokens": tokens, **{f"{name}_tokens_per_s": tokens / best[name] for name in best},
            "engine_over_raw": overhead, "engine_over_raw_sorted": own,
            "batched_speedup": speedup, "targets_met": ok}


if __name__ == "__main__":
    main()
