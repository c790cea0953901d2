"""Benchmark: check and lint on hostile sizes — time per principle must stay flat (issue #11).

Run: python benchmarks/bench_hostile_scale.py [--small 5000] [--large 50000] [--repeat 1]
Cases, each run through the public `check` and `lint` entry points (compile_path, lint_file):
distinct principles at --small and --large, 4,000 identical principles, and 1,000 principles
each named in a stage's list, spelled right ("referenced") and misspelled (1,000 unknown names,
each with a did-you-mean). It prints µs per principle for each and the ratio of each case to
the --small distinct case, measured side by side in one process (the cases take turns, so a
busy machine slows them alike). A referenced principle is more text (its name in the list) and
a 1,000-principle file spreads the fixed cost of a run over fewer principles, so the cost of
the errors themselves is the misspelled case against the referenced one, also printed.
Target: every ratio at most 1.3.
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


def referenced(n: int, spelling: str = "principle_") -> str:
    refs = ", ".join(f"{spelling}{i}" for i in range(n))
    return distinct(n).replace("principle p", "principle principle_") + (
        'constitution "m" { version = "0.1.0" }\n'
        'model m { source = "embedded:smollm2-135m-instruct" }\n'
        'dataset d { path = "d.jsonl" }\n'
        f"stage critique_revision {{ model = m prompts = d principles = [{refs}] }}\n")


def misspelled(n: int) -> str:
    return referenced(n, "principel_")


def timed(run: Callable[[Path], object], paths: dict[int, Path], repeat: int
          ) -> dict[int, float]:
    """Median seconds of each file, the files taking turns in each round."""
    times: dict[int, list[float]] = {k: [] for k in paths}
    for _ in range(repeat):
        for key, path in paths.items():
            gc.collect()
            t0 = time.perf_counter()
            run(path)
            times[key].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv: list[str] | None = None) -> float:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--small", type=int, default=5000)
    ap.add_argument("--large", type=int, default=50000)
    ap.add_argument("--identical", type=int, default=4000)
    ap.add_argument("--misspelled", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    cases = [("distinct", args.small, distinct), ("distinct", args.large, distinct),
             ("identical", args.identical, identical),
             ("referenced", args.misspelled, referenced),
             ("misspelled", args.misspelled, misspelled)]
    commands: list[tuple[str, Callable[[Path], object]]] = [
        ("check", lambda p: compile_path(p, lower=False)),
        ("lint", lambda p: lint_file(p, LintConfig()))]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "constlang.toml").write_text("", "utf-8")
        (root / "d.jsonl").write_text('{"prompt": "hi"}\n', "utf-8")
        paths = {}
        for i, (kind, n, make) in enumerate(cases):
            paths[i] = path = root / f"{i}_{kind}_{n}.const"
            path.write_text(make(n), "utf-8")
        for name, run in commands:
            run(paths[0])  # warm: imports, the parser, the prelude
            seconds = timed(run, paths, args.repeat)
            per = {i: seconds[i] / n * 1e6 for i, (_, n, _) in enumerate(cases)}
            for i, (kind, n, _) in enumerate(cases):
                worst = max(worst, per[i] / per[0])
                extra = ""
                if kind == "misspelled":  # the case before it: the same names, spelled right
                    extra = f"  ({per[i] / per[i - 1]:.2f} × referenced: the errors' own cost)"
                print(f"{name:<5} {kind:<10} {n:>6,} principles  {per[i]:8.1f} µs/principle  "
                      f"ratio {per[i] / per[0]:.2f}{extra}")
    print(f"worst ratio to {args.small:,} distinct principles: {worst:.2f} (target <= 1.3)")
    return worst


if __name__ == "__main__":
    main()
