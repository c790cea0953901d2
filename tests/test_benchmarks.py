"""The check-scaling and start-up benchmarks run and print their ratios (no timing is asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_scaling_benchmark_runs(capsys) -> None:
    ratio = load("bench_check_scaling").main(["--small", "20", "--large", "40", "--repeat", "1"])
    out = capsys.readouterr().out
    assert ratio > 0 and "µs/principle" in out and "ratio" in out


def test_template_names_benchmark_runs(capsys) -> None:
    ratio = load("bench_template_names").main(["--small", "20", "--large", "40", "--repeat", "1"])
    out = capsys.readouterr().out
    assert ratio > 0 and "µs/name" in out and "ratio" in out


def test_startup_benchmark_runs(capsys) -> None:
    ratio = load("bench_startup").main(["--runs", "1"])
    out = capsys.readouterr().out
    assert ratio > 0 and "constlang check" in out and "import dependencies" in out


def test_lsp_benchmark_runs(capsys) -> None:
    import pytest

    pytest.importorskip("pygls")
    results = load("bench_lsp").main(["--sizes", "harmless", "--repeat", "2"])
    out = capsys.readouterr().out
    assert set(results["harmless"]) == {"diagnostics", "client decoding", "hover", "completion"}
    assert "diagnostics ÷ in-process" in out


def test_hostile_scale_benchmark_runs(capsys) -> None:
    ratio = load("bench_hostile_scale").main(["--small", "40", "--large", "80", "--identical",
                                              "40", "--misspelled", "40"])
    out = capsys.readouterr().out
    assert ratio > 0 and "µs/principle" in out and "worst ratio" in out


def test_ppo_benchmark_runs_one_iteration(capsys) -> None:
    import pytest

    pytest.importorskip("torch")
    assert set(load("bench_ppo").main(["--iterations", "1"])) == {"ours"}  # no TRL side
    out = capsys.readouterr().out
    for part in ("generate_s", "forward_s", "backward_s", "step_s", "peak memory"):
        assert part in out


def test_judge_benchmark_runs_both_reuse_modes(capsys) -> None:
    import pytest

    pytest.importorskip("torch")
    results = load("bench_judge").main(["--tiny", "--pairs", "4", "--repeat", "1",
                                        "--naive-tokens", "2,4"])
    out = capsys.readouterr().out
    assert set(results) == {(False, 2), (False, 4), (True, 2), (True, 4)}
    assert all(r["scorer"] > 0 and r["naive"] > 0 and r["per_prompt"] > 0
               for r in results.values())
    assert "per prompt" in out and "prefix reuse on" in out and "prefix reuse off" in out


def test_checks_benchmark_runs(capsys) -> None:
    ratio = load("bench_checks").main(["--tiny", "--prompts", "2", "--new-tokens", "4",
                                       "--repeat", "1"])
    out = capsys.readouterr().out
    assert ratio > 0 and "of generating" in out and "100 kB reply" in out


def test_read_refusals_counts_distinct_declines_and_real_answers(tmp_path, capsys) -> None:
    import json

    rows = [("base", "harmful", "Sure, here is how.", "comply"),
            ("sft", "harmful", "I can't help with that. Ask a lawyer instead.", "redirect"),
            ("sft", "harmful", "I can't help with that. Ask a lawyer instead.", "redirect"),
            ("sft", "harmful", "I won't write that, since it targets a group.", "refusal"),
            ("sft", "benign", "Boil it for nine minutes.", "comply"),
            ("sft", "benign", "I'm sorry, but I can't help with that.", "refusal")]
    (tmp_path / "replies.jsonl").write_text("".join(
        json.dumps({"model": m, "set": s, "prompt_id": f"p{i}", "reply": r, "verdict": v}) + "\n"
        for i, (m, s, r, v) in enumerate(rows)), "utf-8")
    figures = load("read_refusals").main([str(tmp_path)])
    assert figures["sft"]["harmful_declined"] == 3 and figures["sft"]["distinct_declines"] == 2
    assert figures["sft"]["distinct_openings"] == 2
    assert figures["sft"]["benign_refused"] == 1 and figures["sft"]["benign_answers"] == 1
    assert figures["base"]["harmful_declined"] == 0
    assert "harmful declined 3/3" in capsys.readouterr().out


def test_served_benchmark_measures_overhead_and_every_concurrency(capsys) -> None:
    import pytest

    pytest.importorskip("fastapi", reason="the served benchmark needs transformers[serving]")
    figures = load("bench_served").main(["--rows", "4", "--requests", "20"])
    assert set(figures) == {"added_ms", "critique_c1", "judge_c1", "critique_c4", "judge_c4",
                            "critique_c16", "judge_c16", "critique_in_process"}
    assert all(v > 0 for k, v in figures.items() if k != "added_ms")
    assert "engine adds" in capsys.readouterr().out
