"""Benchmark: check and lint on hostile sizes — time per principle must stay flat (issue #11).

Run: python benchmarks/bench_hostile_scale.py [--small 5000] [--large 50000] [--repeat 1]
Cases, each run through the public `check` and `lint` entry points (compile_path, lint_file):
distinct principles at --small and --large, 4,000 identical principles, and 1,000 principles
whose stages misspell 1,000 principle names. It prints µs per principle for each and the ratio
of each case to the --small distinct case, measured side by side in one process. Target: every
ratio at most 1.3.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from constlang.compile import compile_path  # noqa: E402
from constlang.lint.config import LintConfig  # noqa: E402
from constlang.lint.engine import lint_file  # noqa: E402

WORDS = ("harm honest kind clear brief polite safe legal fair calm exact warm direct useful "
         "careful private gentle modest").split()


def distinct(n: int) -> str:
    lines = ["constlang 1"]
    for i in range(n):
        a, b, c = WORDS[i % 17], WORDS[(i // 17) % 17], WORDS[(i // 289) % 17]
        lines.append(f'principle p{i} {{ critique = "Is the reply {a} {b} {c} number {i}?" '
                     f'revision = "Make it {a} and {b}, case {i}." }}')
    return "\n".join(lines) + "\n"


def identical(n: int) -> str:
    return "constlang 1\n" + "".join(
        f'principle p{i} {{ critique = "Say what is wrong with the reply, please." '
        'revision = "Rewrite it." }\n' for i in range(n))


def misspelled(n: int) -> str:
    refs = ", ".join(f"principel_{i}" for i in range(n))
    return distinct(n).replace("principle p", "principle principle_") + (
        'constitution "m" { version = "0.1.0" }\n'
        'model m { source = "embedded:smollm2-135m-instruct" }\n'
        'dataset d { path = "d.jsonl" }\n'
        f"stage critique_revision {{ model = m prompts = d principles = [{refs}] }}\n")


def timed(run: Callable[[Path], object], path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        run(path)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> float:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--small", type=int, default=5000)
    ap.add_argument("--large", type=int, default=50000)
    ap.add_argument("--identical", type=int, default=4000)
    ap.add_argument("--misspelled", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    cases = [("distinct", args.small, distinct), ("distinct", args.large, distinct),
             ("identical", args.identical, identical), ("misspelled", args.misspelled, misspelled)]
    commands: list[tuple[str, Callable[[Path], object]]] = [
        ("check", lambda p: compile_path(p, lower=False)),
        ("lint", lambda p: lint_file(p, LintConfig()))]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "constlang.toml").write_text("", "utf-8")
        (root / "d.jsonl").write_text('{"prompt": "hi"}\n', "utf-8")
        for name, run in commands:
            base = None
            for kind, n, make in cases:
                path = root / f"{kind}_{n}.const"
                path.write_text(make(n), "utf-8")
                per = timed(run, path, args.repeat) / n * 1e6
                base = base or per
                worst = max(worst, per / base)
                print(f"{name:<5} {kind:<10} {n:>6,} principles  {per:8.1f} µs/principle  "
                      f"ratio {per / base:.2f}")
    print(f"worst ratio to {args.small:,} distinct principles: {worst:.2f} (target <= 1.3)")
    return worst


if __name__ == "__main__":
    main()
