"""Benchmark: the critique → revision stage of a shipped constitution, with and without prefix
reuse, on the same prompts, settings and model, side by side in one process.

Run: python benchmarks/bench_critique_stage.py [--constitution constitutions/harmless.const]
     [--prompts N] [--rounds R] [--tiny] [--repeat K]
Reports, for each engine: wall time of the stage's generation, prefill and decode tokens per
second, the share of time spent in prefill, and the speed-up of prefix reuse. Both engines
get identical prompts (sampling is seeded by the stage), so the work differs only in how the
shared head of each step's prompts is computed. The best of K alternating repeats is kept.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

from constlang.compile import compile_path
from constlang.runtime.data import read_prompts
from constlang.runtime.generate import GenerationEngine
from constlang.runtime.models import load_model
from constlang.runtime.stages.critique_revision import CritiqueRevision

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' tiny model
from runtime.tiny import build_tiny_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def run_stage(job: CritiqueRevision, engine: GenerationEngine, prompts: list[Any]) -> float:
    started = time.perf_counter()
    for start in range(0, len(prompts), job.settings.batch_size):
        job.run_chunk(engine, prompts[start:start + job.settings.batch_size])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--constitution", default=str(ROOT / "constitutions/harmless.const"))
    parser.add_argument("--stage", default="critique_revision")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=None, help="override `revisions`")
    parser.add_argument("--tiny", action="store_true", help="a tiny random model (smoke run)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--dtypes", default="float32",
                        help="weights dtypes to compare, comma-separated (float32,bfloat16)")
    args = parser.parse_args()

    result = compile_path(args.constitution)
    if result.plan is None:
        raise SystemExit(f"{args.constitution} does not compile")
    plan = result.plan
    if args.rounds:
        from constlang.runtime.overrides import apply_overrides

        plan = apply_overrides(plan, {args.stage: {"revisions": args.rounds}})
    job = CritiqueRevision.from_plan(plan, args.stage)
    prompts = read_prompts(plan.dataset(job.settings.prompts), result.base_dir,
                           limit=args.prompts)
    dtypes = args.dtypes.split(",")
    loaded = {d: (build_tiny_model("embedded", seed=0) if args.tiny
                  else load_model(job.model, device="cpu", base_dir=result.base_dir, dtype=d))
              for d in dtypes}
    print(f"{args.stage} of {Path(args.constitution).name}: {len(prompts)} prompts × "
          f"{job.settings.revisions} round(s), batch {job.settings.batch_size}, model "
          f"{'tiny' if args.tiny else job.model.source}, max_new_tokens "
          f"{job.model.max_new_tokens}, {torch.get_num_threads()} threads")
    best: dict[str, tuple[float, dict[str, Any]]] = {}
    for _ in range(args.repeat):
        for d in dtypes:
            for kind, reuse in (("plain", False), ("prefix reuse", True)):
                name = kind if len(dtypes) == 1 else f"{d} {kind}"
                engine = GenerationEngine(loaded[d], batch_size=job.settings.batch_size,
                                          prefix_reuse=reuse)
                seconds = run_stage(job, engine, prompts)
                if name not in best or seconds < best[name][0]:
                    best[name] = (seconds, dict(engine.stats))
    for name, (seconds, s) in best.items():
        prefill = s["prefill_seconds"]
        decode = s["decode_seconds"]
        print(f"{name:>22}: {seconds:7.1f} s | prompt tokens {s['prompt_tokens']:>6} "
              f"(prefilled {s['prefill_tokens']}, reused {s['reused_prefix_tokens']}) | "
              f"prefill {s['prompt_tokens'] / max(prefill, 1e-9):7.0f} tok/s | decode "
              f"{s['generated_tokens'] / max(decode, 1e-9):5.1f} tok/s "
              f"({s['generated_tokens']} tokens) | prefill share {prefill / seconds:.0%}")
    for d in dtypes:
        prefix = "" if len(dtypes) == 1 else f"{d} "
        plain, reuse = best[f"{prefix}plain"][0], best[f"{prefix}prefix reuse"][0]
        print(f"speed-up of prefix reuse{'' if not prefix else ' in ' + d}: {plain / reuse:.2f}×")
    if len(dtypes) > 1:
        first, *rest = dtypes
        for d in rest:
            print(f"{d} over {first}, both with prefix reuse: "
                  f"{best[f'{first} prefix reuse'][0] / best[f'{d} prefix reuse'][0]:.2f}×")


if __name__ == "__main__":
    main()
