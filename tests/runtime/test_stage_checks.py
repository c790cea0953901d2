"""Checks serving in stages: critique_revision leaves revisions that fail a check out of its SFT
data (and counts them), revision_pairs never prefers one, and feedback mixes checks with the
judge's labels (veto, drop, ignore). Fake engines for exact rows, a tiny model for a real run."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from constlang.compile import compile_path
from constlang.runtime.data import read_prompts
from constlang.runtime.preference_rows import PreferencesDir
from constlang.runtime.rundir import RunDir
from constlang.runtime.runner import run_plan
from constlang.runtime.sft_data import quality_line
from constlang.runtime.stages.critique_revision import (
    CritiqueRevision,
    CritiqueRevisionDir,
    CritiqueRevisionRunner,
)
from constlang.runtime.stages.feedback import Feedback, FeedbackRunner
from constlang.runtime.stages.revision_pairs import revision_pairs

from .test_critique_revision import FakeEngine as FakeReviser
from .test_feedback import CONSTITUTION as FEEDBACK
from .test_feedback import SIGMA2
from .test_feedback import FakeEngine as FakePolicyJudge

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


# ---------------------------------------------------------------- feedback, faked

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
        "checks decided 4 pair(s): 0 agreed with the judge, 4 overridden")


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
