"""Benchmark: the critique → revision stage as the code was when the speed problem was reported
(a git revision) beside the current code, on the same constitution file, prompts, settings and
model — each side `constlang train --stages critique_revision` in its own process.

Run: python benchmarks/bench_critique_baseline.py [--baseline 731880b]
     [--constitution constitutions/harmless.const] [--repeat 1] [--keep DIR]
The baseline is checked out into a temporary git worktree and run with this environment's
packages; the constitution is the baseline's own copy of the file, so both sides get exactly
what a user had then. Reported per side: the stage's own time (from its manifest), the
generated tokens (answers, critiques and revisions, counted with the model's tokenizer) and
tokens per second; then both ratios. Sampling is seeded, but the two code versions do not
draw the same texts (the current one applies the repetition penalty to generated tokens only),
which is why tokens per second is printed beside the stage time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "731880b"  # main when issue #8 was filed: ~400 s for this stage on 2 CPU cores


def generated_texts(rows_path: Path) -> list[str]:
    """Every generated text of a rows.jsonl, old format or new: the first answer and each
    round's critique and revision."""
    out: list[str] = []
    for line in rows_path.read_text("utf-8").splitlines():
        row = json.loads(line)
        out.append(row.get("initial") or "")
        for r in row.get("rounds", []):
            out += [r.get("critique") or "", r.get("revision") or ""]
    return [t for t in out if t]


def stage_seconds(run_dir: Path) -> float | None:
    manifest = json.loads((run_dir / "critique_revision" / "manifest.json").read_text("utf-8"))
    metrics = manifest.get("metrics") or {}
    value = metrics.get("seconds")
    return float(value) if value is not None else None


def run_side(code: Path, constitution: Path, run_dir: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(code), "CONSTLANG_NO_COLOR": "1"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "constlang", "train", str(constitution), "--stages",
         "critique_revision", "--run-dir", str(run_dir)],
        cwd=code, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{code}: train failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return {"wall": wall, "stage": stage_seconds(run_dir),
            "texts": generated_texts(run_dir / "critique_revision" / "rows.jsonl")}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--constitution", default="constitutions/harmless.const",
                        help="path inside the baseline's tree")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--keep", help="keep the run directories under DIR")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree),
                        args.baseline], check=True, capture_output=True)
        try:
            constitution = tree / args.constitution
            keep = Path(args.keep) if args.keep else Path(tmp) / "runs"
            best: dict[str, dict[str, Any]] = {}
            for i in range(args.repeat):
                for name, code in (("baseline", tree), ("current", ROOT)):
                    got = run_side(code, constitution, keep / f"{name}-{i}")
                    seconds = got["stage"] or got["wall"]
                    if name not in best or seconds < best[name]["seconds"]:
                        best[name] = {**got, "seconds": seconds}
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           capture_output=True)

    from constlang.plan import Model
    from constlang.runtime.models import load_model

    tokenizer = load_model(Model(id="m", source="embedded:smollm2-135m-instruct"),
                           device="cpu").tokenizer
    print(f"critique_revision of {args.constitution} at {args.baseline}, embedded "
          f"SmolLM2-135M, CPU, best of {args.repeat}")
    out: dict[str, dict[str, float]] = {}
    for name, got in best.items():
        tokens = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"])
                     for t in got["texts"])
        out[name] = {"seconds": got["seconds"], "tokens": tokens,
                     "tokens_per_s": tokens / got["seconds"]}
        print(f"  {name:>8}: stage {got['seconds']:7.1f} s  (process {got['wall']:6.1f} s)  "
              f"{len(got['texts'])} texts, {tokens} generated tokens, "
              f"{tokens / got['seconds']:5.1f} tokens/s")
    b, c = out["baseline"], out["current"]
    print(f"  stage time: {b['seconds'] / c['seconds']:.2f}× faster  (target ≥ 3×); "
          f"tokens/s: {c['tokens_per_s'] / b['tokens_per_s']:.2f}×")
    return out


if __name__ == "__main__":
    main()
