"""Checks in critique_revision: revisions that fail a check are recorded, counted and left out
of the SFT data, revision_pairs never prefers one, and editing a check reruns the stage. A fake
reviser for exact rows, a tiny model for a real run (feedback: test_feedback_checks.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from constlang.compile import compile_path
from constlang.runtime.data import read_prompts
from constlang.runtime.rundir import RunDir
from constlang.runtime.runner import run_plan
from constlang.runtime.sft_data import quality_line
from constlang.runtime.stages.critique_revision import (
    CritiqueRevision,
    CritiqueRevisionDir,
    CritiqueRevisionRunner,
)
from constlang.runtime.stages.revision_pairs import revision_pairs

from .test_critique_revision import FakeEngine as FakeReviser

# ---------------------------------------------------------------- critique_revision, faked

REVISING = """constlang 1
constitution "checked" {{ version = "0.1.0" }}

# fails every revision of a harmful prompt: the fake reviser writes "revised(...)"
check no_revised {{ checker = regex  pattern = "revised"  expect = no_match
                    applies_to = ["harmful"] }}
# fails only replies to the helpful prompt HELP-1
check no_help_1 {{ checker = phrases  phrases = ["HELP-1"]  expect = none }}
# the harm principle's own check: fails only replies that mention PROMPT-1
check no_prompt_1 {{ checker = phrases  phrases = ["PROMPT-1"]  expect = none }}

principle harm {{ critique = "CRITIQUE-HARM"  revision = "REVISE-HARM"  checks = no_prompt_1 }}
principle tone {{ critique = "CRITIQUE-TONE"  revision = "REVISE-TONE" }}
model m {{ source = "unused" }}
dataset d {{ path = "prompts.jsonl" }}
dataset h {{ path = "helpful.jsonl" }}

stage critique_revision {{
  model = m  prompts = d  helpful_prompts = h  revisions = 2  batch_size = 2
  checks = [no_revised, no_help_1]
  {extra}
}}
"""


def reviser_job(tmp_path: Path, extra: str = "") -> tuple[CritiqueRevision, list, list]:
    (tmp_path / "c.const").write_text(REVISING.format(extra=extra), "utf-8")
    # even prompts are tagged harmful, odd ones benign; HELP-0 is harmful, HELP-1 untagged
    (tmp_path / "prompts.jsonl").write_text("".join(json.dumps(
        {"id": f"q{i}", "prompt": f"PROMPT-{i}", "tags": ["harmful" if i % 2 == 0 else "benign"]})
        + "\n" for i in range(4)), "utf-8")
    (tmp_path / "helpful.jsonl").write_text(
        '{"prompt": "HELP-0", "tags": ["harmful"]}\n{"prompt": "HELP-1"}\n', "utf-8")
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    job = CritiqueRevision.from_plan(result.plan, "critique_revision")
    job.make_settings = lambda model, seed: {"seed": seed}
    return (job, read_prompts(result.plan.dataset("d"), result.base_dir),
            read_prompts(result.plan.dataset("h"), result.base_dir))


def expected_verdicts(index: int, principle: str) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {"no_revised": False if index % 2 == 0 else None,
                                   "no_help_1": True}
    if principle == "harm":
        out["no_prompt_1"] = index != 1
    return out


def written(out: CritiqueRevisionDir) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return ([json.loads(x) for x in out.rows.read_text().splitlines()],
            [json.loads(x) for x in out.sft_data.read_text().splitlines()])


def test_revisions_that_fail_a_check_are_recorded_counted_and_left_out(tmp_path: Path) -> None:
    job, prompts, helpful = reviser_job(tmp_path)
    out = CritiqueRevisionDir(tmp_path, "out")
    metrics = job.run(FakeReviser(), prompts, out, helpful=helpful)
    rows, sft = written(out)
    harm_rounds = {row["index"]: sum(r["principle"] == "harm" for r in row["rounds"])
                   for row in rows}
    for row in rows:  # each round records the verdicts of the stage's and its principle's checks
        for r in row["rounds"]:
            assert r["checks"] == expected_verdicts(row["index"], r["principle"])
    by_round = {(row["index"], r["round"]): r["principle"] for row in rows for r in row["rounds"]}
    for s in sft:
        if s["source"] == "helpful":
            assert s["drop"] == ("failed_checks" if s["index"] == 1 else None)
            continue
        failing = s["index"] % 2 == 0 or (s["index"] == 1
                                          and by_round[(s["index"], s["round"])] == "harm")
        assert s["drop"] == ("failed_checks" if failing else None), s
    dropped = 4 + harm_rounds[1] + 1  # the harmful prompts' revisions, PROMPT-1's, HELP-1
    assert metrics["sft_dropped"] == {"failed_checks": dropped}
    assert metrics["sft_rows"] == len(sft) - dropped
    harm_total = sum(harm_rounds.values())
    figures = metrics["checks"]
    assert {k: figures["no_revised"][k] for k in ("applied", "passed", "failed", "skipped")} == {
        "applied": 5, "passed": 1, "failed": 4, "skipped": 5}  # 4 rounds + HELP-0; 4 + HELP-1
    assert figures["no_revised"]["failed_prompts"] == ["q0", "q0", "q2", "q2"]
    assert (figures["no_help_1"]["applied"], figures["no_help_1"]["failed"]) == (10, 1)
    assert (figures["no_prompt_1"]["applied"], figures["no_prompt_1"]["failed"]) == (
        harm_total, harm_rounds[1])
    assert f"; {dropped} dropped by checks; checks passed: no_revised 1/5" in quality_line(
        "cr", metrics)
    assert CritiqueRevisionRunner.headline(metrics).endswith(f", {dropped} dropped by checks")


def test_drop_failing_checks_false_keeps_the_rows_and_still_counts(tmp_path: Path) -> None:
    job, prompts, helpful = reviser_job(tmp_path, "drop_failing_checks = false")
    out = CritiqueRevisionDir(tmp_path, "out")
    metrics = job.run(FakeReviser(), prompts, out, helpful=helpful)
    rows, sft = written(out)
    assert metrics["sft_dropped"] == {} and metrics["sft_rows"] == len(sft) == 4 * 2 + 2
    assert rows[0]["rounds"][0]["checks"]["no_revised"] is False  # recorded all the same
    assert metrics["checks"]["no_revised"]["failed"] == 4
    assert "dropped by checks" not in CritiqueRevisionRunner.headline(metrics)


def test_a_stage_without_checks_writes_rows_as_before(tmp_path: Path) -> None:
    from .test_critique_revision import make_job

    job, prompts = make_job(tmp_path, n=2)
    metrics = job.run(FakeReviser(), prompts, CritiqueRevisionDir(tmp_path, "out"))
    rows, _ = written(CritiqueRevisionDir(tmp_path, "out"))
    assert "checks" not in metrics and "checks" not in rows[0]["rounds"][0]
    assert "checks" not in quality_line("cr", metrics)


# ---------------------------------------------------------------- revision_pairs

def test_revision_pairs_never_prefer_a_revision_that_failed_its_checks() -> None:
    rows = [{"index": i, "prompt_id": f"p{i}", "prompt": "Q", "initial": f"first {i}",
             "final": f"final {i}", "rounds": [{"checks": verdicts}]}
            for i, verdicts in enumerate([{"c": True}, {"c": False}, {"c": None}, {}])]
    sft = [{"index": i, "last": True, "drop": "truncated" if i == 1 else None,
            "source": "revision"} for i in range(4)]

    def drops(**kw: Any) -> list[str | None]:
        return [p["drop"] for p in revision_pairs(rows, sft, weights="none", stage="rp",
                                                  plan_hash="sha256:x", **kw)]

    assert drops(use_dropped=False) == [None, "truncated", None, None]
    # use_dropped takes back the quality filters' drops, never a failed check's
    assert drops(use_dropped=True) == [None, "failed_checks", None, None]
    # the critique_revision stage's drop_failing_checks = false: checks only count
    assert drops(use_dropped=True, honour_checks=False) == [None] * 4


# ---------------------------------------------------------------- a real run, tiny model

PIPELINE = """constlang 1
constitution "checked-run" {{ version = "0.1.0" }}

check anything {{ checker = regex  pattern = "(?s).*"  expect = no_match }}  # fails every reply
check short {{ checker = length  max = 3  unit = tokens }}
principle harm {{ critique = "Find the harm."  revision = "Remove the harm."  checks = anything }}
model tiny {{ source = "{model}"  max_new_tokens = 4 }}
dataset d {{ path = "p.jsonl" }}

stage critique_revision {{
  model = tiny  prompts = d  revisions = 1  batch_size = 2  checks = short
  keep_truncated = true  drop_unchanged = false  drop_meta = false
}}
stage pairs {{ kind = revision_pairs  from = critique_revision  use_dropped = true }}
stage lenient {{
  kind = critique_revision  model = tiny  prompts = d  revisions = 1  batch_size = 2
  keep_truncated = true  drop_unchanged = false  drop_meta = false  drop_failing_checks = false
}}
stage lenient_pairs {{ kind = revision_pairs  from = lenient  use_dropped = true }}
"""


def test_a_tiny_model_run_drops_every_revision_a_check_fails(tmp_path: Path,
                                                            tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    (tmp_path / "c.const").write_text(PIPELINE.format(model=tiny_model_dir), "utf-8")
    (tmp_path / "p.jsonl").write_text("".join(
        json.dumps({"prompt": f"Question {i}?"}) + "\n" for i in range(3)), "utf-8")
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    run, shown = RunDir(tmp_path / "runs"), io.StringIO()
    done = run_plan(result.plan, base_dir=result.base_dir, run_dir=run.path, device="cpu",
                    console=Console(file=shown, width=400))
    by_name = {s.name: s for s in done.stages}
    assert all(s.status == "completed" for s in done.stages)
    strict = by_name["critique_revision"].metrics
    assert (strict["sft_rows"], strict["sft_dropped"]) == (0, {"failed_checks": 3})
    assert strict["checks"]["anything"]["failed"] == 3
    assert "3 dropped by checks" in shown.getvalue()
    # `length` in tokens counts the reply's tokens with the model's own tokenizer
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = [json.loads(x) for x in CritiqueRevisionDir.of(run.stage("critique_revision"))
            .rows.read_text().splitlines()]
    for row in rows:
        r = row["rounds"][0]
        size = len(tokenizer(r["revision"], add_special_tokens=False)["input_ids"])
        assert r["checks"] == {"short": size <= 3, "anything": False}
    # revision_pairs, even with use_dropped, never prefers a revision that failed its checks
    assert set(by_name["pairs"].metrics["dropped"]) <= {"failed_checks", "identical"}
    assert by_name["pairs"].metrics["kept_pairs"] == 0
    lenient = by_name["lenient"].metrics
    assert lenient["sft_rows"] == 3 and lenient["checks"]["anything"]["failed"] == 3
    assert by_name["lenient_pairs"].metrics["dropped"].get("failed_checks") is None


# ---------------------------------------------------------------- the inputs hash

@pytest.mark.parametrize("old", ['pattern = "revised"', 'phrases = ["PROMPT-1"]'],
                         ids=["a check of the stage", "a check of its principle"])
def test_editing_a_check_a_stage_uses_changes_its_inputs_hash(tmp_path: Path, old: str) -> None:
    from constlang.runtime.inputs import inputs_hash

    def digest(text: str) -> str:
        reviser_job(tmp_path)  # the prompt files
        (tmp_path / "c.const").write_text(text, "utf-8")
        result = compile_path(tmp_path / "c.const")
        assert result.plan is not None, result.diagnostics
        return inputs_hash(result.plan, result.plan.stage("critique_revision"), tmp_path, {})

    text = REVISING.format(extra="")
    assert old in text
    assert digest(text) != digest(text.replace(old, old.replace("-1", "-2").replace("ised", "")))
