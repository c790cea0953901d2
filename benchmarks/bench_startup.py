"""Benchmark: whole-process time of `constlang check FILE` beside importing its own dependencies.

Run: python benchmarks/bench_startup.py [--file constitutions/harmless.const] [--runs 10]
FILE must check clean. Runs both commands alternately in fresh processes and prints both medians
and their ratio: what constlang adds on top of click, lark, jinja2, pydantic and rich, which
every run pays anyway. Target: at most 2.0. With --plan it also splits what `import constlang.plan`
costs: pydantic's model machinery, the first model class of a process, and plan.py's own classes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPENDENCIES = "import click, lark, jinja2, pydantic, rich"
PYDANTIC_MODELS = "import pydantic; from pydantic import BaseModel, ConfigDict, Field"
# The first model class of a process also scans installed packages for pydantic plugins.
ONE_MODEL = PYDANTIC_MODELS + "\nclass One(BaseModel):\n    x: int = 0"


def run(argv: list[str]) -> float:
    # Bytecode is written as an installed package would have it: compiling constlang's sources
    # on every run (PYTHONDONTWRITEBYTECODE) would be measured as start-up.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def medians(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    for argv in commands.values():  # warm the file cache and the bytecode caches
        run(argv)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            times[name].append(run(argv))
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(argv: list[str] | None = None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", default="constitutions/harmless.const")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--plan", action="store_true",
                    help="also split the cost of `import constlang.plan`")
    args = ap.parse_args(argv)
    py = sys.executable
    commands = {"constlang check": [py, "-m", "constlang", "check", args.file],
                "import dependencies": [py, "-c", DEPENDENCIES]}
    if args.plan:
        commands["import pydantic"] = [py, "-c", "import pydantic"]
        commands["pydantic BaseModel"] = [py, "-c", PYDANTIC_MODELS]
        commands["one pydantic model"] = [py, "-c", ONE_MODEL]
        commands["import constlang.plan"] = [py, "-c", "import constlang.plan"]
    m = medians(commands, args.runs)
    for name, t in m.items():
        print(f"{name:>22}: median {t * 1000:7.1f} ms")
    ratio = m["constlang check"] / m["import dependencies"]
    print(f"{'ratio':>22}: {ratio:.2f}×  (check ÷ dependencies; target ≤ 2.0×)")
    if args.plan:
        parts = (("model machinery", "pydantic BaseModel", "import pydantic"),
                 ("first model class", "one pydantic model", "pydantic BaseModel"),
                 ("plan.py classes", "import constlang.plan", "one pydantic model"))
        for label, whole, base in parts:
            print(f"{label:>22}: {(m[whole] - m[base]) * 1000:7.1f} ms  ({whole} − {base})")
    return ratio


if __name__ == "__main__":
    main()
