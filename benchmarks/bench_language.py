"""Benchmark: check+compile time of generated constitutions of growing size, beside json.loads.

Run: python benchmarks/bench_language.py [--sizes 10,100,1000,5000] [--repeat 3]
Prints, for each size, the best-of-N time to parse, resolve, check and lower a constitution,
the time to json.loads the plan it produces, their ratio, and microseconds per principle (a
flat column means time grows linearly). Target: 1,000 principles in under one second.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from constlang.compile import compile_path  # noqa: E402


def generate(n: int) -> str:
    """A valid constitution with n principles, n/4 questions and every stage."""
    out = ["constlang 1", "", 'constitution "bench" {', '  version = "1.0.0"', "}", ""]
    for i in range(n):
        out += [f"principle p{i} {{",
                f'  critique = "Point out how reply {i} could harm someone or mislead them."',
                f'  revision = "Rewrite reply {i} so it is safe and stays as helpful as before."',
                f'  tags     = ["t{i % 7}", "bench"]',
                f"  weight   = {1 + i % 3}.0", "}", ""]
    for i in range(max(1, n // 4)):
        out += [f'question q{i} {{ text = "Which reply handles request {i} more wisely?" }}', ""]
    out += ['model m { source = "embedded:smollm2-135m-instruct"  max_new_tokens = 64 }',
            'dataset d { path = "prompts.jsonl"  limit = 8 }',
            "stage critique_revision { model = m  prompts = d  revisions = 4 }",
            "stage sft { from = critique_revision }",
            "stage feedback { policy = sft  judge = m  prompts = d }",
            "stage reward_model { from = feedback }",
            "stage ppo { policy = sft  reward = reward_model  prompts = d }", ""]
    return "\n".join(out)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,100,1000,5000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    compile_path(Path("warm.const"), text=generate(2), root=Path.cwd())  # build the parser once
    print(f"{'principles':>10} {'lines':>7} {'check+compile':>14} {'json.loads':>11} "
          f"{'ratio':>7} {'µs/principle':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "prompts.jsonl").write_text('{"prompt": "p"}\n', encoding="utf-8")
        for n in sizes:
            path = Path(tmp) / f"bench{n}.const"
            text = generate(n)
            path.write_text(text)
            result = compile_path(path)
            assert result.plan is not None, result.diagnostics[:3]
            plan_json = result.plan.to_json()
            t_compile = best(lambda p=path: compile_path(p), args.repeat)
            t_json = best(lambda s=plan_json: json.loads(s), max(args.repeat, 5))
            print(f"{n:>10,} {text.count(chr(10)):>7,} {t_compile * 1000:>12.1f}ms "
                  f"{t_json * 1000:>9.2f}ms {t_compile / t_json:>6.1f}× "
                  f"{t_compile / n * 1e6:>12.0f}")


if __name__ == "__main__":
    main()
