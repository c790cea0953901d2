"""Benchmark: how `check` grows — time per principle at 1,000 and 5,000 principles, and the ratio.

Run: python benchmarks/bench_check_scaling.py [--small 1000] [--large 5000] [--repeat 5]
Both sizes are compiled in one process, alternately, after a full garbage collection each, and
the medians are compared: a ratio of 1.0 means time grows linearly. Target: at most 1.3.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from bench_language import generate  # noqa: E402

from constlang.compile import compile_path  # noqa: E402


def timed(path: Path) -> float:
    gc.collect()  # each run starts from the same heap, whatever ran before
    t0 = time.perf_counter()
    result = compile_path(path)
    elapsed = time.perf_counter() - t0
    assert result.plan is not None, result.diagnostics[:3]
    return elapsed


def main(argv: list[str] | None = None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--large", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    sizes = (args.small, args.large)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "prompts.jsonl").write_text('{"prompt": "p"}\n', encoding="utf-8")
        paths = {}
        for n in sizes:
            paths[n] = Path(tmp) / f"scale{n}.const"
            paths[n].write_text(generate(n), encoding="utf-8")
            timed(paths[n])  # build the parser and warm the caches
        times: dict[int, list[float]] = {n: [] for n in sizes}
        for _ in range(args.repeat):
            for n in sizes:
                times[n].append(timed(paths[n]))
    per = {n: statistics.median(times[n]) / n for n in sizes}
    for n in sizes:
        print(f"{n:>6,} principles: median {statistics.median(times[n]) * 1000:8.1f} ms "
              f"= {per[n] * 1e6:6.1f} µs/principle")
    print(f"ratio (µs/principle at {args.large:,} ÷ at {args.small:,}): "
          f"{per[args.large] / per[args.small]:.2f}×  (target ≤ 1.3×)")
    return per[args.large] / per[args.small]


if __name__ == "__main__":
    main()
