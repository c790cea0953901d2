"""Benchmark: what verifying skipped stages costs — a whole `constlang train` rerun that skips
every stage, with the verification (the product) beside the same rerun with the verification
switched off, each a fresh process, interleaved, on one completed run directory.

Run: python benchmarks/bench_skip_verify.py [--constitution constitutions/harmless.const]
     [--run-dir runs/cai-harmless] [--repeat 5]
The run directory must hold a completed run of the constitution (the README's main job). Also
printed: the first verification after the run directory was copied (every file has a new
identity, so every file is hashed once and the record refreshed), measured in a copy.
Target (issue #17): the verified rerun within 1.05× of the unverified one.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the product's `constlang train`, with the verification of completed stages replaced by
# "nothing changed" — what skipping without checks costs
UNVERIFIED = ("import sys; import constlang.runtime.runner as R; "
              "R.verify_completed = lambda *a, **k: None; "
              "from constlang.cli import main; sys.argv[0] = 'constlang'; main()")
VERIFIED = "import sys; from constlang.cli import main; sys.argv[0] = 'constlang'; main()"


def run(code: str, args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, "train", *args], cwd=cwd,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0 or "skipped" not in done.stdout + done.stderr:
        raise SystemExit(f"the rerun did not skip every stage:\n{done.stdout}{done.stderr}")
    return seconds


def in_process(constitution: Path, run_dir: Path) -> tuple[float, float, int]:
    """(seconds of the whole skipping run_plan, seconds spent verifying, verifications), in
    this process: the verification's own share, free of process start-up noise."""
    import io

    from rich.console import Console

    import constlang.runtime.runner as R
    from constlang.compile import compile_path

    spent: list[float] = []
    verify = R.verify_completed

    def timed(*args: object) -> str | None:
        start = time.perf_counter()
        try:
            return verify(*args)  # type: ignore[arg-type]
        finally:
            spent.append(time.perf_counter() - start)

    R.verify_completed = timed  # type: ignore[assignment]
    try:
        result = compile_path(constitution)
        assert result.plan is not None
        start = time.perf_counter()
        R.run_plan(result.plan, base_dir=result.base_dir, run_dir=run_dir, device="cpu",
                   console=Console(file=io.StringIO()))
        return time.perf_counter() - start, sum(spent), len(spent)
    finally:
        R.verify_completed = verify


def main(argv: list[str] | None = None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--constitution", default="constitutions/harmless.const")
    ap.add_argument("--run-dir", default="runs/cai-harmless")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cwd", default=str(ROOT))
    a = ap.parse_args(argv)
    cwd = Path(a.cwd)
    args = [a.constitution, "--run-dir", a.run_dir]
    run(VERIFIED, args, cwd)  # warm the file cache, and bring old manifests' records up to date
    times: dict[str, list[float]] = {"unverified": [], "verified": []}
    for _ in range(a.repeat):
        times["unverified"].append(run(UNVERIFIED, args, cwd))
        times["verified"].append(run(VERIFIED, args, cwd))
    med = {k: statistics.median(v) for k, v in times.items()}
    size = sum(p.stat().st_size for p in (cwd / a.run_dir).rglob("*") if p.is_file())
    print(f"run directory {a.run_dir}: {size / 2**20:,.0f} MiB")
    for k, v in times.items():
        print(f"  {k:<10} median {med[k]:6.2f} s  (min {min(v):.2f}, max {max(v):.2f}, "
              f"{len(v)} runs)")
    ratio = med["verified"] / med["unverified"]
    print(f"verified / unverified: {ratio:.3f}× (target ≤ 1.05×)")
    whole, verifying, count = in_process(cwd / a.constitution, cwd / a.run_dir)
    print(f"in one process: the skipping run {whole * 1000:.0f} ms, of which verification "
          f"{verifying * 1000:.1f} ms ({count} stages checked, {verifying / whole:.1%})")
    with tempfile.TemporaryDirectory(dir=cwd) as tmp:
        copy = Path(tmp) / "copy"
        shutil.copytree(cwd / a.run_dir, copy)
        copied = [a.constitution, "--run-dir", str(copy)]
        first = run(VERIFIED, copied, cwd)
        again = run(VERIFIED, copied, cwd)
    print(f"after copying the run directory: first rerun {first:.2f} s (every file hashed, "
          f"records refreshed), the next {again:.2f} s")
    return ratio


if __name__ == "__main__":
    main()
