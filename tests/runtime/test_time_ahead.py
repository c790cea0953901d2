"""The time estimate at the start of `constlang train`: rates measured by earlier runs on this
machine, kept in a bounded per-user file that a broken or hostile copy cannot crash."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from constlang.compile import compile_path
from constlang.preview import stage_costs
from constlang.runtime import rates as R
from constlang.runtime.estimate import (
    AROUND,
    Ahead,
    planned_work,
    rate_key,
    span,
    time_ahead,
    time_line,
)
from constlang.runtime.rundir import RunDir

from .test_runner import invoke, project


def test_a_second_run_estimates_its_time_from_the_first_runs_rates(
        tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSTLANG_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CONSTLANG_RATES")  # the default: rates.json in the user cache
    path = project(tmp_path, tiny_model_dir)
    first = invoke(path)
    assert first.exit_code == 0, first.output
    assert "time ahead: not known yet: no stage has run on this machine" in first.output
    data = json.loads((tmp_path / "cache" / "rates.json").read_text())
    keys = sorted(data["rates"])  # per stage: its work's rate, and its time around the work
    assert len(keys) == 4 and all(str(tiny_model_dir) in k for k in keys)
    assert {(k.split(" | ")[1], k.split(" | ")[-1]) for k in keys} == {
        ("critique_revision", "per token"), ("sft", "per example"),
        ("critique_revision", "per run, around the work"),
        ("sft", "per run, around the work")}

    again = invoke(path)  # the same run directory: both stages are skipped, and said so
    assert "time ahead: nothing to run; left out: critique_revision, sft (completed" \
        in again.output
    (tmp_path / "runs").rename(tmp_path / "first-runs")
    second = invoke(path)  # a fresh run directory: the rates recorded above give a time
    assert second.exit_code == 0, second.output
    line = next(x for x in second.output.splitlines() if x.startswith("time ahead:"))
    assert "on this machine, from earlier runs (" in line and "not known" not in line
    assert "critique_revision" in line and "sft" in line
    after = json.loads((tmp_path / "cache" / "rates.json").read_text())
    assert all(len(after["rates"][k]) == 2 for k in keys)  # a second measurement each


def test_a_corrupt_rates_file_is_ignored_with_a_warning_and_written_anew(
        tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSTLANG_RATES", str(tmp_path / "cache" / "rates.json"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "rates.json").write_text('{"format": 1, "rates": {"x": [NaN]}')
    path = project(tmp_path, tiny_model_dir)
    result = invoke(path, "--stages", "critique_revision")
    assert result.exit_code == 0, result.output
    assert "warning: ignored the rates file" in result.output
    assert "time ahead: not known yet" in result.output
    data = json.loads((tmp_path / "cache" / "rates.json").read_text())
    assert {k.split(" | ")[1] for k in data["rates"]} == {"critique_revision"}


def test_a_rate_measured_on_far_more_work_is_not_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSTLANG_RATES", str(tmp_path / "rates.json"))
    result = compile_path(project(tmp_path, "some/model"))
    plan, base = result.plan, result.base_dir
    assert plan is not None
    stage = plan.stage("critique_revision")
    amount = planned_work(plan, stage, {c.stage: c for c in stage_costs(plan, base)}).amount
    assert amount == 3 * 5 * 4  # 3 prompts × (answer + 2 × (critique + revision)) × 4 tokens
    key = rate_key(R.machine_key("cpu"), plan, stage, "token")

    def line() -> str:
        return time_ahead(plan, ["critique_revision"], base, RunDir(tmp_path / "runs"), "cpu",
                          print)

    R.record(key, 0.5, amount * 5, print)  # measured on five times the work
    assert "not known yet: critique_revision (run here only at more than 4× less or more " \
           "work)" in line()
    R.record(key, 2.0, amount * 2, print)  # twice the work: near enough
    R.record(rate_key(R.machine_key("cpu"), plan, stage, AROUND), 30.0, amount * 2, print)
    assert line().startswith("time ahead: estimated 2–3 min on this machine, from earlier "
                             "runs (critique_revision 2–3 min)")  # 60 × 2 s + 30 s


def test_an_unusable_manifest_is_left_to_its_stage(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSTLANG_RATES", str(tmp_path / "rates.json"))
    result = compile_path(project(tmp_path, "some/model"))
    assert result.plan is not None
    folder = tmp_path / "runs" / "critique_revision"
    folder.mkdir(parents=True)
    (folder / "manifest.json").symlink_to(tmp_path / "c.const")  # the stage refuses it later
    line = time_ahead(result.plan, ["critique_revision", "sft"], result.base_dir,
                      RunDir(tmp_path / "runs"), "cpu", print)
    assert line.startswith("time ahead: not known yet") and "left out" not in line


HOSTILE = {
    "not json": b"\x00\xff{",
    "a list": b"[1, 2]",
    "newer format": b'{"format": 2, "rates": {}, "measured_at": {}}',
    "negative": b'{"format": 1, "rates": {"k": [[-1, 1]]}, "measured_at": {}}',
    "infinite": b'{"format": 1, "rates": {"k": [[1e999, 1]]}, "measured_at": {}}',
    "a string": b'{"format": 1, "rates": {"k": [["1", 1]]}, "measured_at": {}}',
    "a bare number": b'{"format": 1, "rates": {"k": [1]}, "measured_at": {}}',
    "too many samples": b'{"format": 1, "rates": {"k": [[1,1],[1,1],[1,1],[1,1],[1,1],[1,1]]}, '
                        b'"measured_at": {}}',
    "deep": b"[" * 100_000,
    "too large": b" " * (R.MAX_BYTES + 1),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_rates_files_are_ignored(tmp_path: Path, name: str) -> None:
    path = tmp_path / "rates.json"
    path.write_bytes(HOSTILE[name])
    warned: list[str] = []
    assert R.load(warned.append, path) == ({}, {})
    assert len(warned) == 1 and "ignored the rates file" in warned[0]
    R.record("k", 2.0, 10, warned.append, path)  # written anew, valid
    assert R.load(warned.append, path)[0] == {"k": [(2.0, 10.0)]} and len(warned) == 1


def test_a_link_or_fifo_in_place_of_the_rates_file_is_ignored_and_replaced(
        tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    path = tmp_path / "rates.json"
    path.symlink_to(secret)
    warned: list[str] = []
    assert R.load(warned.append, path) == ({}, {}) and warned
    R.record("k", 1.0, 1, warned.append, path)
    assert secret.read_text() == "not yours" and not path.is_symlink()
    path.unlink()
    os.mkfifo(path)  # reading must not block on a FIFO
    assert R.load(warned.append, path) == ({}, {})


def test_the_file_stays_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(R, "MAX_KEYS", 3)
    path = tmp_path / "rates.json"
    for i in range(5):
        for _ in range(R.SAMPLES + 2):
            R.record(f"key{i}", 1.0 + i, 100, print, path)
    rates, _ = R.load(print, path)
    assert sorted(rates) == ["key2", "key3", "key4"]  # the least recently measured dropped
    assert all(len(v) == R.SAMPLES for v in rates.values())
    R.record("k", float("nan"), 100, print, path)  # not a measurement: not recorded
    assert "k" not in R.load(print, path)[0]


def test_the_line_names_what_is_not_known() -> None:
    line = time_line(Ahead([("critique_revision", 600.0, 700.0)], ["ppo"], ["sft"], ["bon"]))
    assert line.startswith("time ahead: estimated 8–14 min on this machine, from earlier runs "
                           "(critique_revision 8–14 min); not known yet: ppo (not run here "
                           "with this model before); sft (run here only at more than 4× less")
    assert line.endswith("left out: bon (completed earlier with this plan)")
    assert span(10, 30) == "under 1 min" and span(3000, 4800) == "50 min–1 h 20 min"


def test_training_work_counts_the_rows_best_of_n_keeps_per_prompt(tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text("".join(
        json.dumps({"prompt": f"question {i}?"}) + "\n" for i in range(5)))
    (tmp_path / "c.const").write_text("""constlang 1
constitution "keep" {}
model m { source = "embedded:smollm2-135m-instruct" }
dataset p { path = "p.jsonl" }
check brief { checker = length  max = 40  unit = words }
stage best_of_n { policy = m  prompts = p  samples = 4  keep = 3  pairs_per_prompt = 1
                  checks = [brief] }
stage sft { from = best_of_n  model = m  epochs = 2 }
stage reward_model { from = best_of_n  model = m }
""")
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    plan = result.plan
    costs = {c.stage: c for c in stage_costs(plan, tmp_path)}
    # at most the replies or pairs kept per prompt (the larger: an upper bound), × epochs
    assert planned_work(plan, plan.stage("sft"), costs).amount == 5 * 3 * 2
    assert planned_work(plan, plan.stage("reward_model"), costs).amount == 5 * 3
