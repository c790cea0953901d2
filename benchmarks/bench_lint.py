"""Benchmark: lint and fmt of a generated 1,000-principle constitution beside check+compile.

Run: python benchmarks/bench_lint.py [--principles N] [--repeat R] [--max-ratio X]
Both sides are measured in one process, alternately, and reported as a ratio; lint reuses the
compiler's result (one parse, resolve, check and lowering), so the difference is the rules.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from constlang.compile import compile_path
from constlang.lint.config import LintConfig
from constlang.lint.engine import lint_result
from constlang.syntax.format import format_source

BASE = ("reply answer user request harm harmful unsafe illegal unethical honest accurate "
         "kind respectful private personal data weapon danger risk child minor advice medical "
         "legal financial tone rude hostile calm clear concise vague detail step example "
         "claim source evidence uncertain confident biased fair group stereotype safety law "
         "privacy consent threat violence fraud theft manipulation pressure deceive mislead "
        "warning sermon lecture refuse dodge help useful practical specific direct").split()
# A Zipf-distributed vocabulary of ~1,000 words, as in real prose: a few words everywhere,
# most words rare. (Uniform draws from a tiny vocabulary would make every text alike.)
WORDS = BASE + [p + w for p in ("re", "un", "over", "under", "pre", "mis", "dis", "co", "non",
                                "anti", "post", "semi", "sub") for w in BASE]
ZIPF = [1 / (rank + 1) for rank in range(len(WORDS))]


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(WORDS, ZIPF, k=n)).capitalize()


def constitution(principles: int, questions: int = 50, seed: int = 0) -> str:
    """A valid constitution with the full pipeline and many distinct principles."""
    rng = random.Random(seed)
    out = ["constlang 1", "", f'constitution "bench-{principles}" {{ version = "1.0.0" }}', ""]
    for i in range(principles):
        out += [f"principle p{i:04d} {{",
                f'  critique = "Point out where the reply is {_sentence(rng, 14).lower()}."',
                f'  revision = "Rewrite the reply so it is {_sentence(rng, 14).lower()}, '
                'and keep helping."',
                f'  tags     = ["t{i % 7}", "group-{i % 3}"]',
                f"  weight   = {rng.choice([0.5, 1.0, 1.5])}", "}", ""]
    for i in range(questions):  # one in five pointwise
        if i % 5 == 0:
            out += [f"question q{i:03d} {{",
                    f'  text = "Is the reply {_sentence(rng, 10).lower()}?"',
                    '  kind = pointwise  good_answer = "No"', "}", ""]
        else:
            out += [f"question q{i:03d} {{",
                    f'  text = "Which reply is more {_sentence(rng, 10).lower()}?"', "}", ""]
    for i in range(4):
        out += [f"example e{i} {{", f'  prompt = "{_sentence(rng, 12)}?"',
                f'  response = "{_sentence(rng, 20)}."',
                f'  critique_request = "{_sentence(rng, 12)}."',
                f'  critique = "{_sentence(rng, 20)}."',
                f'  revision_request = "{_sentence(rng, 12)}."',
                f'  revision = "{_sentence(rng, 20)}."', "}", ""]
    out += ['model assistant { source = "embedded:smollm2-135m-instruct"  max_new_tokens = 64 }',
            'dataset red_team { path = "prompts.jsonl" }',
            'dataset pairs { path = "pairs.jsonl" }',
            "stage critique_revision { model = assistant  prompts = red_team }",
            "stage sft { from = critique_revision }",
            "stage feedback { policy = sft  judge = assistant  prompts = red_team",
            "                 judge_check = pairs  min_judge_accuracy = 0.7 }",
            "stage reward_model { from = feedback }",
            "stage ppo { policy = sft  reward = reward_model  prompts = red_team }", ""]
    return "\n".join(out)


def measure(path: Path, repeat: int
            ) -> tuple[list[float], list[float], list[float], list[float], int]:
    """Alternating runs: (check+compile, lint, rules-only and fmt times, findings)."""
    config = LintConfig()
    checks, lints, rules, fmts = [], [], [], []
    findings = 0
    text = path.read_text(encoding="utf-8")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        format_source(text, str(path))
        fmts.append(time.perf_counter() - t0)
        gc.collect()
        t0 = time.perf_counter()
        compile_path(path)
        checks.append(time.perf_counter() - t0)
        gc.collect()
        t0 = time.perf_counter()
        result = compile_path(path)
        t1 = time.perf_counter()
        report = lint_result(path, result, config)
        t2 = time.perf_counter()
        lints.append(t2 - t0)
        rules.append(t2 - t1)
        findings = len(report.diagnostics)
    return checks, lints, rules, fmts, findings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--principles", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--max-ratio", type=float, default=None,
                    help="exit 1 when lint takes more than this times check+compile")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "constlang.toml").write_text("")
        (root / "prompts.jsonl").write_text('{"prompt": "How do I pick a lock?"}\n')
        (root / "pairs.jsonl").write_text('{"prompt": "Hi", "better": "Hello!", "worse": "Go."}\n')
        path = root / "bench.const"
        path.write_text(constitution(args.principles), encoding="utf-8")
        compile_path(path)  # warm the parser and template caches
        checks, lints, rules, fmts, findings = measure(path, args.repeat)
        size = path.stat().st_size
    check_t, lint_t, rules_t, fmt_t = (statistics.median(x) for x in (checks, lints, rules, fmts))
    ratio = lint_t / check_t
    print(f"constitution: {args.principles:,} principles, 50 questions, {size:,} bytes; "
          f"median of {args.repeat} runs")
    print(f"check+compile  {check_t * 1000:8.1f} ms")
    print(f"lint           {lint_t * 1000:8.1f} ms   (rules {rules_t * 1000:.1f} ms, "
          f"{findings} findings)")
    print(f"fmt            {fmt_t * 1000:8.1f} ms   ({fmt_t / check_t:.2f}× check+compile)")
    print(f"ratio          {ratio:8.2f}×   (lint / check+compile; target <= 1.50×)")
    if args.max_ratio is not None and ratio > args.max_ratio:
        print(f"FAIL: ratio above {args.max_ratio}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
