"""Benchmark: `check` of one template line holding N undeclared names — time per name at 2,000
and at 20,000 names, and the ratio (issue #17).

Run: python benchmarks/bench_template_names.py [--small 2000] [--large 20000] [--repeat 3]
Each file is a valid constitution whose critique template is one line of N `{{ vI }}` prints,
so `check` reports N E302 errors, each placed at its own name. Both sizes are checked in one
process, alternately, after a full garbage collection each, and the medians are compared: a
ratio of 1.0 means time grows linearly with the names. Target: at most 1.5 (before issue #17
each diagnostic searched the whole line again: 6.9× at c2dd745).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from constlang.compile import compile_path  # noqa: E402

HEAD = '''constlang 1
constitution "names" { version = "0.1.0" }
principle p { critique = "Say what is wrong." revision = "Rewrite it." }
model m { source = "embedded:smollm2-135m-instruct" }
dataset d { path = "data.jsonl" }
stage critique_revision { model = m prompts = d critique_template = t }
template t(prompt, response, principle) """
'''


def generate(n: int) -> str:
    names = " ".join(f"{{{{ v{i} }}}}" for i in range(n))
    return HEAD + names + " {{ prompt }}{{ response }}{{ principle }}\n\"\"\"\n"


def timed(path: Path, n: int) -> float:
    gc.collect()
    t0 = time.perf_counter()
    result = compile_path(path)
    elapsed = time.perf_counter() - t0
    assert sum(d.code == "E302" for d in result.diagnostics) == n, result.diagnostics[:3]
    return elapsed


def main(argv: list[str] | None = None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=2000)
    ap.add_argument("--large", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    sizes = (args.small, args.large)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "constlang.toml").write_text("", "utf-8")
        paths = {}
        for n in sizes:
            paths[n] = Path(tmp) / f"names{n}.const"
            paths[n].write_text(generate(n), encoding="utf-8")
            timed(paths[n], n)  # build the parsers and warm the caches
        times: dict[int, list[float]] = {n: [] for n in sizes}
        for _ in range(args.repeat):
            for n in sizes:
                times[n].append(timed(paths[n], n))
    per = {n: statistics.median(times[n]) / n for n in sizes}
    for n in sizes:
        print(f"{n:>7,} names on one line: median {statistics.median(times[n]) * 1000:9.1f} ms "
              f"= {per[n] * 1e6:7.1f} µs/name")
    ratio = per[args.large] / per[args.small]
    print(f"ratio (µs/name at {args.large:,} ÷ at {args.small:,}): {ratio:.2f}×  (target ≤ 1.5×)")
    return ratio


if __name__ == "__main__":
    main()
