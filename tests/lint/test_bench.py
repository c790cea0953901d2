"""The lint benchmark runs, and its generated constitution lints nearly clean."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_lint",
                                                  ROOT / "benchmarks" / "bench_lint.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_runs_on_a_small_constitution(capsys):
    bench = load_bench()
    assert bench.main(["--principles", "50", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "check+compile" in out and "ratio" in out
    assert "0 findings" in out
