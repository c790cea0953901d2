"""Checks in the feedback stage: judge labels mixed with checks (veto, drop, ignore), the
checks of the asked questions, tag scopes, and the counts. A fake policy and judge for exact
rows, a tiny model for a real run."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from constlang.compile import compile_path
from constlang.runtime.preference_rows import PreferencesDir
from constlang.runtime.rundir import RunDir
from constlang.runtime.runner import run_plan
from constlang.runtime.stages.feedback import Feedback, FeedbackRunner

from .test_feedback import CONSTITUTION as FEEDBACK
from .test_feedback import SIGMA2
from .test_feedback import FakeEngine as FakePolicyJudge

# ---------------------------------------------------------------- the program, faked

CHECKS = """
check no_good {{ checker = phrases  phrases = ["GOOD"]  expect = none  case_sensitive = true }}
check no_bad {{ checker = phrases  phrases = ["BAD"]  expect = none  case_sensitive = true }}
check no_reply {{ checker = phrases  phrases = ["reply"]  expect = none }}
check harmful_only {{ checker = phrases  phrases = ["GOOD"]  expect = none
                      applies_to = ["harmful"] }}
question vetted {{ text = "QUESTION-VETTED: which is better?"  checks = [{question_checks}] }}
"""


def judged(tmp_path: Path, *, checks: str = "", question_checks: str = "no_reply",
           questions: str = "[better]", conflicts: str = "veto") -> tuple[
        list[dict[str, Any]], dict[str, Any]]:
    """The rows and metrics of a feedback stage run on 4 prompts by the fake policy/judge."""
    from .helpers import compile_with_prompts

    extra = f"check_conflicts = {conflicts}" + (f"\n  checks = {checks}" if checks else "")
    text = FEEDBACK.format(questions=questions, extra=extra, temperature=0.7) + CHECKS.format(
        question_checks=question_checks)
    result, prompts = compile_with_prompts(tmp_path, text, 4)
    assert result.plan is not None
    job = Feedback.from_plan(result.plan, "feedback")
    job.make_settings = lambda model, seed: {"seed": seed}
    engine = FakePolicyJudge("good")  # the judge prefers the GOOD reply, p = σ(2)
    metrics = job.run(engine, engine, prompts, PreferencesDir(tmp_path, "out"))
    text = PreferencesDir(tmp_path, "out").preferences.read_text()
    return [json.loads(line) for line in text.splitlines()], metrics


def summary(rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {(r["chosen"][0]["content"].split()[0], round(r["p_chosen"], 6), r["drop"],
             r["checks"]["ruling"], r["checks"]["overridden"]) for r in rows}


def figures(metrics: dict[str, Any]) -> tuple[int, ...]:
    c = metrics["checks"]
    return c["decided"], c["agreed"], c["overridden"], c["dropped"], c["ignored"]


P_GOOD = round(SIGMA2, 6)


def test_veto_chooses_the_reply_that_passes_with_a_hard_label(tmp_path: Path) -> None:
    rows, metrics = judged(tmp_path, checks="no_good")
    assert summary(rows) == {("BAD", 1.0, None, "overridden", True)}
    assert all(r["p_judge"] == pytest.approx(1 - SIGMA2) for r in rows)  # the judge's view
    assert all(r["checks"]["chosen"] == {"no_good": True} and
               r["checks"]["rejected"] == {"no_good": False} for r in rows)
    assert figures(metrics) == (4, 0, 4, 0, 0) and metrics["kept_pairs"] == 4
    assert metrics["checks"]["per_check"]["no_good"]["applied"] == 8
    assert metrics["checks"]["per_check"]["no_good"]["failed"] == 4
    assert FeedbackRunner.headline(metrics).endswith(
        "checks decided 4 pairs: 0 agreed with the judge, 4 overridden")


def test_drop_leaves_out_the_pairs_the_judge_decided_against_the_checks(tmp_path: Path) -> None:
    rows, metrics = judged(tmp_path, checks="no_good", conflicts="drop")
    assert summary(rows) == {("GOOD", P_GOOD, "check_conflict", "dropped", False)}
    assert figures(metrics) == (4, 0, 0, 4, 0)
    assert metrics["kept_pairs"] == 0 and metrics["dropped"] == {"check_conflict": 4}


def test_ignore_keeps_the_judges_label_and_counts_the_disagreement(tmp_path: Path) -> None:
    rows, metrics = judged(tmp_path, checks="no_good", conflicts="ignore")
    assert summary(rows) == {("GOOD", P_GOOD, None, "ignored", False)}
    assert figures(metrics) == (4, 0, 0, 0, 4)


@pytest.mark.parametrize("conflicts", ["veto", "drop"])
def test_checks_that_agree_with_the_judge(tmp_path: Path, conflicts: str) -> None:
    rows, metrics = judged(tmp_path, checks="no_bad", conflicts=conflicts)
    # veto: the checks decided, so the label is hard; drop: nothing to drop, the judge's label
    p = 1.0 if conflicts == "veto" else P_GOOD
    assert summary(rows) == {("GOOD", p, None, "agreed", False)}
    assert figures(metrics) == (4, 4, 0, 0, 0)


def test_when_both_or_neither_reply_passes_the_judge_decides(tmp_path: Path) -> None:
    rows, metrics = judged(tmp_path, checks="[no_good, no_bad]")  # both replies fail
    assert summary(rows) == {("GOOD", P_GOOD, None, "judge", False)}
    assert figures(metrics) == (0, 0, 0, 0, 0)


def test_a_check_applies_only_to_prompts_with_its_tags(tmp_path: Path) -> None:
    rows, metrics = judged(tmp_path, checks="harmful_only")  # the prompts carry no tags
    assert summary(rows) == {("GOOD", P_GOOD, None, "judge", False)}
    assert all(r["checks"]["chosen"] == {"harmful_only": None} for r in rows)
    assert metrics["checks"]["per_check"]["harmful_only"]["skipped"] == 8


def test_the_questions_checks_count_for_the_pairs_they_judge(tmp_path: Path) -> None:
    rows, metrics = judged(tmp_path, questions="[vetted]", question_checks="no_good")
    assert summary(rows) == {("BAD", 1.0, None, "overridden", True)}
    assert metrics["checks"]["per_check"]["no_good"]["applied"] == 8
    (tmp_path / "plain").mkdir()  # a question the stage does not ask brings no checks
    rows, metrics = judged(tmp_path / "plain", questions="[better]", question_checks="no_good")
    assert all("checks" not in r for r in rows) and "checks" not in metrics


def test_a_stage_without_checks_writes_rows_without_the_field(tmp_path: Path) -> None:
    from .test_feedback import ROW_KEYS, make_job

    job, prompts = make_job(tmp_path, n=2)
    engine = FakePolicyJudge("good")
    metrics = job.run(engine, engine, prompts, PreferencesDir(tmp_path, "out"))
    row = json.loads(PreferencesDir(tmp_path, "out").preferences.read_text().splitlines()[0])
    assert set(row) == ROW_KEYS and "checks" not in metrics


# ---------------------------------------------------------------- a real run, tiny model
FEEDBACK_RUN = """constlang 1
constitution "checked-feedback" {{ version = "0.1.0" }}

check short {{ checker = length  max = 4  unit = tokens }}
check tagged {{ checker = regex  pattern = "(?s).*"  expect = no_match  applies_to = ["harmful"] }}
question better {{ text = "Which reply is better?"  checks = tagged }}
model tiny {{ source = "{model}"  max_new_tokens = 4  temperature = 0.9 }}
dataset d {{ path = "p.jsonl" }}

stage feedback {{
  policy = tiny  judge = tiny  prompts = d  batch_size = 2  keep_truncated = true
  checks = short  check_conflicts = veto
}}
"""


def test_a_tiny_model_feedback_run_labels_pairs_by_checks_and_the_judge(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    (tmp_path / "c.const").write_text(FEEDBACK_RUN.format(model=tiny_model_dir), "utf-8")
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(
        {"prompt": f"Question {i}?", "tags": ["harmful"] if i == 0 else []}) + "\n"
        for i in range(4)), "utf-8")
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    run = RunDir(tmp_path / "runs")
    done = run_plan(result.plan, base_dir=result.base_dir, run_dir=run.path, device="cpu",
                    console=Console(file=io.StringIO()))
    assert done.stages[0].status == "completed"
    metrics = done.stages[0].metrics
    rows = [json.loads(x) for x in PreferencesDir.of(run.stage("feedback")).preferences
            .read_text().splitlines()]
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)

    def size(messages: list[dict[str, str]]) -> int:
        return len(tokenizer(messages[0]["content"], add_special_tokens=False)["input_ids"])

    for r in rows:  # `short` counts with the policy's tokenizer; `tagged` only on prompt 0
        tagged = False if r["index"] == 0 else None
        assert r["checks"]["chosen"] == {"short": size(r["chosen"]) <= 4, "tagged": tagged}
        assert r["checks"]["rejected"] == {"short": size(r["rejected"]) <= 4, "tagged": tagged}
        passes = [False not in r["checks"][k].values() for k in ("chosen", "rejected")]
        decided = passes[0] != passes[1]
        assert r["checks"]["ruling"] in (("agreed", "overridden") if decided else ("judge",))
        if decided:  # veto: the passing reply, with a hard label
            assert passes[0] and r["p_chosen"] == 1.0
    assert metrics["checks"]["decided"] == sum(r["checks"]["decided"] for r in rows)
    assert metrics["checks"]["per_check"]["tagged"]["applied"] == 2  # prompt 0's two replies
    assert metrics["checks"]["per_check"]["short"]["applied"] == 8
    assert metrics["checks"]["decided"] >= 1  # the tiny model's replies differ in length
