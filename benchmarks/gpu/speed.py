"""The GPU check's figures (benchmarks/gpu/run.py): the judge scorer, generation tokens/s,
one PPO iteration beside TRL 1.9.2's PPOTrainer, and SFT / reward-model training beside TRL's
stock trainers — on a model with SmolLM2-135M's config and random weights on a GPU, on the
tiny model with --device cpu. The existing benchmarks/bench_*.py do the measuring."""

from __future__ import annotations

import importlib.util
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from steps import ROOT, CheckFailed, Context


def bench(name: str) -> ModuleType:
    """benchmarks/<name>.py as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def judge_step(ctx: Context) -> dict[str, Any]:
    """bench_judge: the scorer ≥ 5× faster than the naive judge at its cheapest useful budget
    (16 tokens, read on the embedded model: docs in benchmarks/README.md), and ≤ 1.2× its bare
    forward passes."""
    argv = (["--random-135m", "--device", "cuda", "--pairs", "32", "--repeat", "2",
             "--naive-tokens", "16,32"] if ctx.cuda else
            ["--tiny", "--pairs", "4", "--repeat", "1", "--naive-tokens", "4,8"])
    results = bench("bench_judge").main(argv)
    cheapest = min(t for _, t in results)
    figures: dict[str, Any] = {}
    for (reuse, tokens), r in results.items():
        figures[f"reuse_{'on' if reuse else 'off'}_naive_{tokens}"] = {
            "scorer_s": round(r["scorer"], 4), "forward_s": round(r["forward"], 4),
            "naive_s": round(r["naive"], 4), "speedup_per_prompt": round(r["per_prompt"], 2),
            "scorer_over_forward": round(r["scorer"] / r["forward"], 3)}
    now = results[(True, cheapest)]  # prefix reuse is what stages run
    figures["targets_met"] = {"speedup_ge_5x": now["per_prompt"] >= 5,
                              "scorer_le_1.2x_forward": now["scorer"] / now["forward"] <= 1.2}
    figures["headline"] = (f"scorer {now['per_prompt']:.1f}× faster than naive@{cheapest} "
                           f"tokens (≥ 5×), {now['scorer'] / now['forward']:.2f}× its forward "
                           "passes (≤ 1.2×)")
    return figures


def generate_step(ctx: Context) -> dict[str, Any]:
    """bench_generate: the engine beside raw model.generate, fixed generated length."""
    argv = (["--random-135m", "--device", "cuda", "--prompts", "16", "--new-tokens", "64",
             "--batch-size", "8", "--repeat", "2"] if ctx.cuda else
            ["--tiny", "--device", "cpu", "--prompts", "4", "--new-tokens", "8",
             "--batch-size", "4", "--repeat", "1"])
    r = bench("bench_generate").main(argv)
    figures = {k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}
    figures["headline"] = (f"engine {r['engine_tokens_per_s']:.0f} tok/s, raw generate "
                           f"{r['raw_tokens_per_s']:.0f} tok/s ({r['engine_over_raw']:.2f}× "
                           f"the time), batch 1 {r['engine_bs1_tokens_per_s']:.0f} tok/s")
    return figures


def ppo_vs_trl_step(ctx: Context) -> dict[str, Any]:
    """bench_ppo: one PPO iteration, each side in its own process (≤ 1.0× TRL's time and
    memory). Without a GPU, TRL's side runs only where TRL 1.9.2 is already installed in
    benchmarks/.trl-1.9.2 (`python benchmarks/bench_ppo.py --trl` installs it): it takes a
    minute on a CPU."""
    b = bench("bench_ppo")
    have_trl = ctx.cuda or (b.TRL_DIR / "trl" / "experimental" / "ppo").is_dir()
    argv = ["--model", "random-135m" if ctx.cuda else "tiny", "--device", ctx.device,
            "--iterations", "2" if ctx.cuda else "1", *(["--trl"] if have_trl else [])]
    try:
        r = b.main(argv)
    except SystemExit as exc:  # a side failed: its stderr is the message
        raise CheckFailed(str(exc)[-1500:], {}) from None
    figures: dict[str, Any] = {"ours": r["ours"]}
    if not have_trl:
        figures["trl"] = ("not run: TRL 1.9.2 is not installed in benchmarks/.trl-1.9.2 "
                          "(python benchmarks/bench_ppo.py --trl installs it)")
        figures["headline"] = f"constlang {r['ours']['step_s']:.2f} s/iteration; TRL not run"
        return figures
    figures.update(trl=r["trl"], time_ratio=round(r["time_ratio"], 3),
                   memory_ratio=round(r["memory_ratio"], 3),
                   targets_met={"time_le_1x": r["time_ratio"] <= 1.0,
                                "memory_le_1x": r["memory_ratio"] <= 1.0})
    figures["headline"] = (f"constlang {r['ours']['step_s']:.2f} s vs TRL "
                           f"{r['trl']['step_s']:.2f} s per iteration ({r['time_ratio']:.2f}×), "
                           f"peak memory {r['memory_ratio']:.2f}×")
    return figures


def sft_rows(n: int) -> list[dict[str, Any]]:
    return [{"prompt": [{"role": "user", "content": f"Tell me about topic number {i}."}],
             "completion": [{"role": "assistant", "content": "Here is a short, careful "
                             f"answer about topic {i}, in a sentence or two."}]}
            for i in range(n)]


def model_for(ctx: Context) -> Any:
    from runtime.tiny import build_135m_shaped, build_tiny_model

    return (build_135m_shaped(device="cuda") if ctx.cuda
            else build_tiny_model("embedded", seed=0))


def sft_rate(ctx: Context, ours: bool, rows: list[dict[str, Any]], folder: Path) -> float:
    """Steps per second of one SFT epoch: the sft stage's trainer (its config and callbacks:
    constlang.runtime.training) or TRL's stock SFTTrainer with the same batch and length."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from constlang.kinds.sft import SFTSettings
    from constlang.runtime import training as T
    from constlang.runtime.rundir import RunDir

    loaded = model_for(ctx)
    batch, length = 8, 128
    if ours:
        out = RunDir(folder / "ours").stage("sft")
        out.path.mkdir(parents=True, exist_ok=True)
        settings = SFTSettings(**{"from": "c", "batch_size": batch, "max_length": length})
        config = T.trainer_config(SFTConfig, settings, out, ctx.device, len(rows))
        callbacks = [T.report_callback(out.metrics, None)]
    else:
        config = SFTConfig(output_dir=str(folder / "stock"), per_device_train_batch_size=batch,
                           num_train_epochs=1, max_length=length, use_cpu=not ctx.cuda,
                           bf16=ctx.cuda, report_to="none", save_strategy="no",
                           disable_tqdm=True, logging_steps=1000)
        callbacks = []
    trainer = SFTTrainer(model=loaded.model, args=config, train_dataset=Dataset.from_list(rows),
                         processing_class=loaded.tokenizer, callbacks=callbacks)
    started = time.perf_counter()
    result = T.train(trainer) if ours else trainer.train()
    return result.global_step / (time.perf_counter() - started)


def sft_vs_trl_step(ctx: Context) -> dict[str, Any]:
    """SFT steps/s, the stage's trainer beside TRL's stock SFTTrainer, alternating, best of
    2 on a GPU (the first run also warms the GPU up)."""
    rows = sft_rows(64 if ctx.cuda else 8)
    best = {"stock": 0.0, "ours": 0.0}
    with tempfile.TemporaryDirectory(dir=ctx.work) as tmp:
        for i in range(2 if ctx.cuda else 1):
            for side in ("stock", "ours"):
                rate = sft_rate(ctx, side == "ours", rows, Path(tmp) / f"{side}{i}")
                best[side] = max(best[side], rate)
    ratio = best["stock"] / best["ours"]
    return {"stock_steps_per_s": round(best["stock"], 2), "ours_steps_per_s":
            round(best["ours"], 2), "time_ratio": round(ratio, 3), "rows": len(rows),
            "ours_gradient_checkpointing": ctx.cuda,
            "headline": f"stage trainer {best['ours']:.2f} steps/s, stock SFTTrainer "
                        f"{best['stock']:.2f} steps/s ({ratio:.2f}× the time)"}


def reward_vs_trl_step(ctx: Context) -> dict[str, Any]:
    """bench_reward's two trainers (the soft-label loss beside TRL's stock RewardTrainer)."""
    from runtime.tiny import build_135m_shaped, tokenizer_dir

    from constlang.runtime.models import save_model

    b = bench("bench_reward")
    rows = b.pairs(64 if ctx.cuda else 16)
    source = None
    if ctx.cuda:
        loaded = build_135m_shaped()
        source = str(save_model(loaded.model, loaded.tokenizer, ctx.work / "rm-135m"))
    best = {"stock": 0.0, "soft": 0.0}
    for _ in range(2 if ctx.cuda else 1):
        for side in ("stock", "soft"):
            rate = b.train_once(side == "soft", rows, source, tokenizer_dir(), ctx.device)
            best[side] = max(best[side], rate)
    ratio = best["stock"] / best["soft"]
    return {"stock_pairs_per_s": round(best["stock"], 1),
            "soft_pairs_per_s": round(best["soft"], 1), "time_ratio": round(ratio, 3),
            "targets_met": {"time_le_1.1x": ratio <= 1.1},
            "headline": f"soft-label {best['soft']:.1f} pairs/s, stock RewardTrainer "
                        f"{best['stock']:.1f} pairs/s ({ratio:.2f}× the time, ≤ 1.1×)"}
