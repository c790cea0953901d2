"""One PPO iteration (rollout, scoring, update) on a tiny model: constlang's PPO split into
generation / forward / backward, beside TRL 1.9.2's `trl.experimental.ppo.PPOTrainer` on the
same config, each side in its own process (time per iteration and peak memory).

    python benchmarks/bench_ppo.py                  # constlang only
    python benchmarks/bench_ppo.py --trl            # and TRL 1.9.2, installed on first use
    python benchmarks/bench_ppo.py --model embedded # constlang on SmolLM2-135M (slow on CPU)
    python benchmarks/bench_ppo.py --trl --device cuda --model random-135m  # the GPU check

On CUDA both sides keep float32 weights and run under bf16 mixed precision, and peak memory is
torch's peak GPU allocation; on CPU it is the process's peak resident set.

TRL 1.9.2 is a comparison, not a dependency: `--trl` installs it with `pip install --no-deps
--target benchmarks/.trl-1.9.2` and runs its side with that folder first on PYTHONPATH, so
both sides share torch and transformers (the same kernels) and differ only in the PPO code.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TRL_DIR = ROOT / "benchmarks" / ".trl-1.9.2"
TRL_WHEELS = ROOT / "benchmarks" / "gpu" / "wheels" / "trl-1.9.2"  # benchmarks/gpu/wheels.sh

# one config for both sides: 16 rollouts of 16 tokens, 2 minibatches of 8 in micro-batches
# of 4, 4 PPO epochs, a separate value model initialised from the reward model
BATCH, MINI_BATCHES, MICRO, EPOCHS, TOKENS, TEMPERATURE = 16, 2, 4, 4, 16, 0.7


def peak_mb(device: str = "cpu") -> float:
    """This process's peak memory: on CUDA torch's peak GPU allocation, else the peak resident
    set (Linux reports KiB)."""
    if device == "cuda":
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prompts() -> list[str]:
    return [f"Tell me something about topic number {i}." for i in range(BATCH)]


def models(which: str, device: str = "cpu") -> tuple[Any, Any, Any, Any]:
    """(policy, tokenizer, reward model, value model) on `device`: tiny random Llamas from one
    seed, SmolLM2-135M's config with random weights, or the embedded model."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from constlang.runtime.models import embedded_model_dir, save_model

    sys.path.insert(0, str(ROOT / "tests"))  # the tests' tiny model
    from runtime.tiny import build_135m_shaped, build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        if which in ("tiny", "random-135m"):
            loaded = (build_tiny_model("embedded", seed=0) if which == "tiny"
                      else build_135m_shaped(seed=0))
            folder = save_model(loaded.model, loaded.tokenizer, Path(tmp) / which)
        else:
            folder = embedded_model_dir()
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(folder)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        policy = AutoModelForCausalLM.from_pretrained(folder)
        torch.manual_seed(0)
        reward = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1)
        torch.manual_seed(0)
        value = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1)
    for m in (reward, value):
        m.config.pad_token_id = tokenizer.pad_token_id
    policy.generation_config.pad_token_id = tokenizer.pad_token_id
    return policy.to(device), tokenizer, reward.to(device), value.to(device)


def run_ours(which: str, iterations: int, device: str = "cpu") -> dict[str, Any]:
    import torch
    from accelerate import Accelerator

    from constlang.kinds.ppo import PPOSettings
    from constlang.runtime.models import LoadedModel
    from constlang.runtime.ppo.actors import Actors
    from constlang.runtime.ppo.loop import PPOLoop
    from constlang.runtime.ppo.rollout import Query
    from constlang.runtime.reward import RewardScorer

    torch.manual_seed(0)
    policy, tokenizer, reward, value = models(which, device)
    s = PPOSettings(policy="p", reward="r", prompts="d", steps=iterations + 1, batch_size=BATCH,
                    mini_batch_size=BATCH // MINI_BATCHES, gradient_accumulation_steps=(
                        BATCH // MINI_BATCHES) // MICRO, ppo_epochs=EPOCHS,
                    max_new_tokens=TOKENS, temperature=TEMPERATURE, checkpoint_every=0,
                    learning_rate=3e-6)
    scorer = RewardScorer(LoadedModel(reward.eval(), tokenizer, "reward", "bench", device),
                          batch_size=BATCH)
    actors = Actors.build(policy, s, scorer, value)

    class Generation:
        overflow, context_length = "error", None

    queries = [Query([{"role": "user", "content": p}], p) for p in prompts()]
    on_gpu = device == "cuda"
    loop = PPOLoop(s, actors, tokenizer, queries, Generation(), Accelerator(
        cpu=not on_gpu, mixed_precision="bf16" if on_gpu else "no"))
    runs = [loop.run_step() for _ in range(iterations + 1)][1:]  # the first warms up
    keys = ("generate_s", "score_s", "forward_s", "backward_s", "step_s")
    out = {k: sum(r[k] for r in runs) / len(runs) for k in keys}
    return {**out, "peak_mb": peak_mb(device)}


def run_trl(which: str, iterations: int, device: str = "cpu") -> dict[str, Any]:
    import warnings

    from datasets import Dataset
    from transformers import TrainerCallback
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    warnings.simplefilter("ignore")
    policy, tokenizer, reward, value = models(which, device)
    ids = [tokenizer.apply_chat_template([{"role": "user", "content": p}],
                                         add_generation_prompt=True, return_dict=False)
           for p in prompts()]
    ends: list[float] = []

    class Clock(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, *args: Any, **kwargs: Any) -> None:
            ends.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as out:
        config = PPOConfig(
            output_dir=out, per_device_train_batch_size=MICRO,
            gradient_accumulation_steps=BATCH // MICRO, num_mini_batches=MINI_BATCHES,
            num_ppo_epochs=EPOCHS, total_episodes=BATCH * (iterations + 1),
            response_length=TOKENS, temperature=TEMPERATURE, learning_rate=3e-6,
            local_rollout_forward_batch_size=MICRO, num_sample_generations=0,
            report_to="none", use_cpu=device == "cpu", bf16=device == "cuda",
            save_strategy="no", logging_steps=10_000,
            stop_token="eos", disable_tqdm=True)
        trainer = PPOTrainer(args=config, processing_class=tokenizer, model=policy,
                             ref_model=None, reward_model=reward,
                             train_dataset=Dataset.from_dict({"input_ids": ids * 4}),
                             value_model=value, callbacks=[Clock()])
        started = time.perf_counter()
        trainer.train()
    laps = [b - a for a, b in zip([started, *ends], ends, strict=False)][1:]
    return {"step_s": sum(laps) / len(laps), "peak_mb": peak_mb(device)}


def install_trl() -> None:
    """TRL 1.9.2 into its own folder (once), without touching the environment's packages."""
    if (TRL_DIR / "trl" / "experimental" / "ppo").is_dir():
        return
    offline = ["--no-index", "--find-links", str(TRL_WHEELS)] if TRL_WHEELS.is_dir() else []
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *offline,
                    "--target", str(TRL_DIR), "trl==1.9.2"], check=True)


def side(name: str, which: str, iterations: int, device: str = "cpu") -> dict[str, Any]:
    """Run one side in a fresh process (one thread, so the two compare fairly)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TRL_EXPERIMENTAL_SILENCE": "1",
           "PYTHONPATH": os.pathsep.join(
               ([str(TRL_DIR)] if name == "trl" else []) + [str(ROOT)]
               + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    out = subprocess.run([sys.executable, __file__, "--side", name, "--model", which,
                          "--iterations", str(iterations), "--device", device], env=env,
                         capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"the {name} side failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--model", choices=("tiny", "embedded", "random-135m"), default="tiny")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--trl", action="store_true", help="also time TRL 1.9.2's PPOTrainer")
    parser.add_argument("--side", choices=("ours", "trl"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:  # inside one side's process: print its numbers as one JSON line
        import torch

        torch.set_num_threads(1)
        run = run_ours if args.side == "ours" else run_trl
        print(json.dumps(run(args.model, args.iterations, args.device)))
        return {}
    ours = side("ours", args.model, args.iterations, args.device)
    print(f"constlang PPO, {args.model} model on {args.device}, {BATCH} rollouts × {TOKENS} "
          f"tokens, {EPOCHS} epochs, mean of {args.iterations} iterations:")
    for key in ("generate_s", "score_s", "forward_s", "backward_s", "step_s"):
        print(f"  {key:<11} {ours[key]:8.3f} s")
    print(f"  peak memory {ours['peak_mb']:8.0f} MB")
    if not args.trl:
        return {"ours": ours}
    install_trl()
    trl = side("trl", args.model, args.iterations, args.device)
    ratio = ours["step_s"] / trl["step_s"]
    print(f"TRL 1.9.2 PPOTrainer: {trl['step_s']:.3f} s per iteration, peak memory "
          f"{trl['peak_mb']:.0f} MB")
    print(f"ratio constlang / TRL: time {ratio:.2f}×, peak memory "
          f"{ours['peak_mb'] / trl['peak_mb']:.2f}×")
    return {"ours": ours, "trl": trl, "time_ratio": ratio,
            "memory_ratio": ours["peak_mb"] / trl["peak_mb"]}


if __name__ == "__main__":
    main()
