"""Benchmark: reward-model training with the soft-label loss beside TRL's RewardTrainer with its
stock loss, on the same pairs, model and settings, alternating in one process.

Run: python benchmarks/bench_reward.py [--pairs N] [--embedded] [--repeat K] [--device cuda]
Prints pairs/second of each trainer (best of K) and the ratio soft ÷ stock (target ≤ 1.1×:
the override runs TRL's own forward pass and metrics, then one extra loss expression).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from datasets import Dataset
from trl import RewardConfig, RewardTrainer

from constlang.plan import Model
from constlang.runtime.models import load_model
from constlang.runtime.stages.reward_model import collator, soft_reward_trainer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' tiny model
from runtime.tiny import build_tiny_model  # noqa: E402

PROMPTS = ["How do I pick a lock?", "Write a haiku about rain.", "Is it safe to eat raw eggs?",
           "Help me write an apology to my neighbour.", "What's a good way to learn chess?"]


def pairs(n: int) -> list[dict[str, object]]:
    out = []
    for i in range(n):
        prompt = PROMPTS[i % len(PROMPTS)]
        out.append({"prompt": [{"role": "user", "content": prompt}],
                    "chosen": [{"role": "assistant", "content": f"A careful, kind answer {i}."}],
                    "rejected": [{"role": "assistant", "content": f"Figure it out yourself {i}."}],
                    "p_chosen": 0.5 + (i % 5) / 10})
    return out


def train_once(soft: bool, rows: list[dict[str, object]], model_source: str | None,
               tokenizer_dir: Path, device: str = "cpu") -> float:
    """Pairs per second of one epoch (float32 weights; bf16 mixed precision on CUDA, as the
    reward_model stage trains there)."""
    if model_source is None:
        loaded = build_tiny_model(tokenizer_dir, seed=0)
        with tempfile.TemporaryDirectory() as tmp:
            loaded.model.save_pretrained(tmp)
            loaded.tokenizer.save_pretrained(tmp)
            loaded = load_model(Model(id="rm", source=tmp), device=device, head="reward",
                                dtype="float32")
    else:
        loaded = load_model(Model(id="rm", source=model_source), device=device, head="reward",
                            dtype="float32")
    tok = loaded.tokenizer
    with tempfile.TemporaryDirectory() as out:
        config = RewardConfig(output_dir=out, per_device_train_batch_size=4, num_train_epochs=1,
                              max_length=128, use_cpu=device == "cpu", bf16=device == "cuda",
                              report_to="none",
                              save_strategy="no", disable_tqdm=True,
                              remove_unused_columns=not soft, seed=0, logging_steps=1000)
        data = Dataset.from_list(rows if soft else [
            {k: v for k, v in r.items() if k != "p_chosen"} for r in rows])
        if soft:
            trainer = soft_reward_trainer()(model=loaded.model, args=config, train_dataset=data,
                                            processing_class=tok,
                                            data_collator=collator(tok.pad_token_id))
        else:
            trainer = RewardTrainer(model=loaded.model, args=config, train_dataset=data,
                                    processing_class=tok)
        started = time.perf_counter()
        trainer.train()
        return len(rows) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--embedded", action="store_true", help="the embedded 135M model")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    from runtime.tiny import tokenizer_dir

    from constlang.runtime.models import embedded_model_dir

    folder = embedded_model_dir() if args.embedded else tokenizer_dir()
    source = str(folder) if args.embedded else None
    rows = pairs(args.pairs)
    best = {"stock": 0.0, "soft": 0.0}
    for _ in range(args.repeat):
        best["stock"] = max(best["stock"], train_once(False, rows, source, folder, args.device))
        best["soft"] = max(best["soft"], train_once(True, rows, source, folder, args.device))
    model = "embedded SmolLM2-135M" if args.embedded else "tiny Llama"
    print(f"{args.pairs} pairs, batch 4, one epoch, {model} on {args.device}, best of "
          f"{args.repeat}")
    print(f"  TRL RewardTrainer (stock loss): {best['stock']:7.1f} pairs/s")
    print(f"  constlang soft-label trainer:   {best['soft']:7.1f} pairs/s")
    print(f"  time ratio soft ÷ stock: {best['stock'] / best['soft']:.2f}×  (target ≤ 1.1×)")
    return {"stock_pairs_per_s": best["stock"], "soft_pairs_per_s": best["soft"],
            "time_ratio": best["stock"] / best["soft"]}


if __name__ == "__main__":
    main()
