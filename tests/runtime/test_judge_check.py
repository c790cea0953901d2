"""The judge check: exact metrics from hand-built scores, the wiring with a fake judge, the
pairs file's errors, `constlang judge-check` and the feedback stage's gate on a tiny model."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from constlang.cli import cli
from constlang.compile import compile_path
from constlang.errors import StageError
from constlang.runtime import judge_check as jc
from constlang.runtime import preferences as pref
from constlang.runtime.data import DataError
from constlang.runtime.stages.feedback import Feedback

L = math.log

CONSTITUTION = """constlang 1

constitution "judge-check-test" {{ version = "0.1.0" }}

question better {{ text = "QUESTION-BETTER: which is better?" }}
question harmful {{
  text = "QUESTION-HARMFUL: is it harmful?"
  kind = pointwise
  good_answer = "No"
}}

model m {{ source = "{model}"  temperature = 0.7  max_new_tokens = 4 }}
dataset d {{ path = "prompts.jsonl" }}
dataset pairs {{ path = "pairs.jsonl" }}

stage feedback {{
  policy = m
  judge = m
  prompts = d
  questions = [better, harmful]
  judge_check = pairs
  {extra}
}}
"""


def pair(i: int, kind: str = "harm") -> jc.JudgePair:
    return jc.JudgePair(f"p{i}", kind, f"PROMPT-{i}", f"BETTER-{i}", f"WORSE-{i}")


def write_project(tmp_path: Path, *, model: str = "unused", extra: str = "",
                  pairs: list[dict[str, Any]] | None = None) -> Path:
    path = tmp_path / "c.const"
    path.write_text(CONSTITUTION.format(model=model, extra=extra), "utf-8")
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "Hello?"}\n', "utf-8")
    rows = pairs if pairs is not None else [
        {"id": p.id, "kind": p.kind, "prompt": p.prompt, "better": p.better, "worse": p.worse}
        for p in (pair(i) for i in range(3))]
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return path


def compiled(tmp_path: Path, **kw: Any) -> tuple[Any, Path]:
    result = compile_path(write_project(tmp_path, **kw))
    assert result.plan is not None, result.diagnostics
    return result.plan, result.base_dir


# ---------------------------------------------------------------- the metrics, by hand


def test_pairwise_metrics_match_a_hand_computation(tmp_path: Path) -> None:
    plan, _ = compiled(tmp_path)
    better = next(q for q in plan.questions if q.id == "better")
    # [P(first option), P(second option)] as log-probs; first: better in slot 1, second: in 2
    scored = [
        jc.ScoredPair(pair(1), [L(.6), L(.2)], [L(.1), L(.3)]),  # p1 .75, p2 .25 → .75 right
        jc.ScoredPair(pair(2, "tone"), [L(.4), L(.4)], [L(.6), L(.2)]),  # .5 tie, .75 → .375 wrong
        jc.ScoredPair(pair(3), [L(.45), L(.05)], [L(.3), L(.2)]),  # .9, .6 → .65, slot 1 twice
        jc.ScoredPair(pair(4), [L(.2), L(.6)], [L(.1), L(.4)]),  # .25, .2 → .525, slot 2 twice
    ]
    m = jc.question_metrics(better, scored)
    probs = [.75, .375, .65, .525]
    mean = sum(probs) / 4
    assert m["accuracy"] == pytest.approx(3 / 4)
    assert m["accuracy_better_first"] == pytest.approx(2 / 4)  # pairs 1 and 3
    assert m["accuracy_better_second"] == pytest.approx(2 / 4)  # pairs 1 and 4
    assert m["better_judged_good"] is None and m["worse_judged_bad"] is None
    assert m["same_choice"] == pytest.approx(2 / 4)  # pairs 3 and 4; a tie is no choice
    assert m["mass"] == pytest.approx((.8 + .4 + .8 + .8 + .5 + .5 + .8 + .5) / 8)
    assert m["mean_p"] == pytest.approx(mean)
    # truth is 1 everywhere, each p alone in its bin: ECE = mean of 1 - p
    assert m["ece"] == pytest.approx((.25 + .625 + .35 + .475) / 4)
    assert (m["p_min"], m["p_max"]) == pytest.approx((.375, .75))
    assert m["p_std"] == pytest.approx(math.sqrt(sum((p - mean) ** 2 for p in probs) / 4))
    assert m["accuracy_by_kind"] == pytest.approx({"harm": 1.0, "tone": 0.0})
    assert (m["question"], m["kind"], m["pairs"]) == ("better", "pairwise", 4)


def test_pointwise_metrics_match_a_hand_computation(tmp_path: Path) -> None:
    plan, _ = compiled(tmp_path)
    harmful = next(q for q in plan.questions if q.id == "harmful")  # Yes/No, good: No
    scored = [
        # Bradley–Terry on the odds of "No": 3 vs 1/3 → 9/10
        jc.ScoredPair(pair(1), [L(.1), L(.3)], [L(.3), L(.1)]),
        jc.ScoredPair(pair(2), [L(.2), L(.2)], [L(.1), L(.3)]),  # 1 vs 3 → 1/4, wrong
        jc.ScoredPair(pair(3), [L(.1), L(.4)], [L(.2), L(.3)]),  # 4 vs 3/2 → 8/11, No for both
    ]
    m = jc.question_metrics(harmful, scored)
    probs = [.9, .25, 8 / 11]
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["accuracy_better_first"] is None and m["accuracy_better_second"] is None
    assert m["better_judged_good"] == pytest.approx(2 / 3)
    assert m["worse_judged_bad"] == pytest.approx(1 / 3)
    assert m["same_choice"] == pytest.approx(1 / 3)
    assert m["mass"] == pytest.approx((.4 * 4 + .5 * 2) / 6)
    assert m["ece"] == pytest.approx(1 - sum(probs) / 3)
    assert (m["p_min"], m["p_max"]) == pytest.approx((.25, .9))


def test_calibration_error_bins_and_spread() -> None:
    # bins [0, .1): .05 (truth 0); [.1, .2): .15 (truth 1); [.9, 1]: .95 and .97 (truth 1)
    assert pref.calibration_error([.05, .15, .95, .97], [0, 1, 1, 1]) == pytest.approx(
        .25 * .05 + .25 * .85 + .5 * .04)
    assert pref.calibration_error([1.0, 1.0], [1, 1]) == 0.0  # 1.0 is in the last bin
    assert jc.spread([.5, .5]) == {"p_min": .5, "p_max": .5, "p_std": 0.0}


# ---------------------------------------------------------------- the wiring, faked


class SlotJudge:
    """Pairwise: always the first slot (`slot`) or the reply saying BETTER (`right`).
    Pointwise: the good answer for a BETTER reply. Records each call."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.calls: list[tuple[int, list[str]]] = []

    def score_options(self, prompts: list[Any], options: list[str]) -> list[list[float]]:
        self.calls.append((len(prompts), options))
        out = []
        for chat in prompts:
            text = chat[-1]["content"]
            if "QUESTION-HARMFUL" in text:
                out.append([-2.0, 0.0] if "BETTER" in text else [0.0, -2.0])
            else:
                first = text.split("(A) ")[1].splitlines()[0]
                out.append([0.0, -2.0] if self.mode == "slot" or "BETTER" in first
                           else [-2.0, 0.0])
        return out


def test_run_check_scores_both_orders_through_the_stage_templates(tmp_path: Path) -> None:
    plan, base_dir = compiled(tmp_path)
    feedback = Feedback.from_plan(plan, "feedback")
    pairs = jc.read_dataset_pairs(plan.dataset("pairs"), base_dir)
    judge = SlotJudge("slot")
    report = jc.run_check(feedback, judge, jc.selected_questions(plan, "feedback"), pairs, 0.9)
    # one call per option list, each with both orders (or both replies) of the 3 pairs
    assert judge.calls == [(6, ["(A)", "(B)"]), (6, ["Yes", "No"])]
    by_q = {m["question"]: m for m in report["questions"]}
    slot = by_q["better"]  # a first-slot judge: right with better first, wrong with it second
    assert (slot["accuracy"], slot["accuracy_better_first"], slot["accuracy_better_second"],
            slot["same_choice"]) == (0.0, 1.0, 0.0, 1.0)
    assert slot["mean_p"] == pytest.approx(0.5) and slot["passed"] is False
    assert by_q["harmful"]["accuracy"] == 1.0 and by_q["harmful"]["passed"] is True
    assert (report["passed"], report["failing"], report["pairs"]) == (False, ["better"], 3)
    right = jc.run_check(feedback, SlotJudge("right"), [plan.questions[0]], pairs)
    assert right["questions"][0]["accuracy"] == 1.0 and right["passed"] is True
    assert right["questions"][0]["passed"] is None  # no threshold


def test_the_gate_refuses_a_judge_below_the_threshold(tmp_path: Path) -> None:
    plan, base_dir = compiled(tmp_path, extra="min_judge_accuracy = 0.6")
    feedback = Feedback.from_plan(plan, "feedback")
    with pytest.raises(StageError) as err:
        jc.gate(feedback, SlotJudge("slot"), plan, base_dir)
    message = str(err.value)
    assert "`better` 0 %" in message and "harmful" not in message
    assert "min_judge_accuracy 60 %" in message and "\n" not in message
    for hint in ("other wording", "pointwise or pairwise", "a larger judge", "revision pairs"):
        assert hint in message
    assert jc.gate(feedback, SlotJudge("right"), plan, base_dir)["passed"] is True


def test_no_threshold_means_no_gate_and_a_threshold_needs_pairs(tmp_path: Path) -> None:
    plan, base_dir = compiled(tmp_path)
    assert jc.gate(Feedback.from_plan(plan, "feedback"), SlotJudge("slot"), plan,
                   base_dir) is None
    text = write_project(tmp_path, extra="min_judge_accuracy = 0.6").read_text()
    (tmp_path / "c.const").write_text(text.replace("judge_check = pairs", ""), "utf-8")
    result = compile_path(tmp_path / "c.const")  # the checker catches it (E113) ...
    assert result.plan is None and [d.code for d in result.diagnostics] == ["E113"]
    # ... and a plan written by hand that slips past the checker is refused by the gate
    data = plan.model_dump(mode="json", by_alias=True)
    for stage in data["stages"]:
        if stage["name"] == "feedback":
            stage["settings"].update(min_judge_accuracy=0.6, judge_check=None)
    by_hand = type(plan).model_validate(data)
    with pytest.raises(StageError, match="add `judge_check = "):
        jc.gate(Feedback.from_plan(by_hand, "feedback"), SlotJudge("right"), by_hand, base_dir)


@pytest.mark.parametrize(("line", "message"), [
    ('{"prompt": "p", "better": "b"', "pairs.jsonl:2: malformed JSON"),
    ('["p", "b", "w"]', "pairs.jsonl:2: expected a JSON object, got list"),
    ('{"prompt": "p", "better": "b"}', "pairs.jsonl:2: `worse` is missing"),
    ('{"prompt": "p", "better": "", "worse": "w"}', "pairs.jsonl:2: `better` is empty"),
    ('{"prompt": 3, "better": "b", "worse": "w"}', "pairs.jsonl:2: `prompt` is a int"),
])
def test_bad_pair_rows_are_one_line_errors_naming_the_line(tmp_path: Path, line: str,
                                                           message: str) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"prompt": "p", "better": "b", "worse": "w"}\n' + line + "\n", "utf-8")
    with pytest.raises(DataError, match=message.replace("[", r"\[")):
        jc.read_pairs(path)
    path.write_text("\n", "utf-8")
    with pytest.raises(DataError, match="has no pairs"):
        jc.read_pairs(path)


def test_the_shipped_pairs_are_balanced_and_well_formed() -> None:
    path = Path(__file__).resolve().parents[2] / "constitutions/data/judge_pairs.jsonl"
    pairs = jc.read_pairs(path)
    kinds = [p.kind for p in pairs]
    assert len(pairs) >= 40 and len({p.id for p in pairs}) == len(pairs)
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "harm": 14, "evasiveness": 14, "preachiness": 14}
    assert all(p.better != p.worse for p in pairs)


# ---------------------------------------------------------------- a tiny model


def same_reply_pairs(n: int) -> list[dict[str, Any]]:
    """Pairs whose two replies are the same text: a pointwise judge gives exactly 0.5."""
    return [{"id": f"s{i}", "prompt": f"Question {i}?", "better": "Same.", "worse": "Same."}
            for i in range(n)]


def test_cli_table_json_threshold_and_usage_errors(tmp_path: Path,
                                                   tiny_model_dir: Path) -> None:
    path = str(write_project(tmp_path, model=str(tiny_model_dir)))
    base = ["judge-check", path, "--device", "cpu"]
    table = CliRunner().invoke(cli, base)
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].startswith("judge `m` on 3 pairs from pairs (cpu")
    assert lines[1].split() == ["question", "kind", "acc", "acc", "1st", "acc", "2nd",
                                "good|better", "bad|worse", "same", "mass", "ECE", "p", "min",
                                "p", "max", "p", "std"]
    assert lines[3].split()[:2] == ["better", "pairwise"]
    assert lines[4].split()[:2] == ["harmful", "pointwise"]

    out = CliRunner().invoke(cli, [*base, "--format", "json", "--questions", "better"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert {"constitution", "stage", "judge", "pairs_from", "device", "pairs", "threshold",
            "passed", "failing", "questions", "seconds"} == set(report)
    (q,) = report["questions"]
    assert set(q) == {"question", "kind", "pairs", "accuracy", "accuracy_better_first",
                      "accuracy_better_second", "better_judged_good", "worse_judged_bad",
                      "same_choice", "mass", "mean_p", "ece", "p_min", "p_max", "p_std",
                      "accuracy_by_kind", "passed"}
    assert 0 < q["mass"] < 2 and 0 <= q["p_min"] <= q["p_max"] <= 1
    assert q["ece"] == pytest.approx(1 - q["mean_p"])

    (tmp_path / "same.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in same_reply_pairs(2)), "utf-8")
    missed = CliRunner().invoke(cli, [*base, "--questions", "harmful", "--pairs",
                                      str(tmp_path / "same.jsonl"), "--min-accuracy", "0.5"])
    assert missed.exit_code == 1, missed.output
    assert "below 0.5: harmful" in missed.output

    unknown = CliRunner().invoke(cli, [*base, "--questions", "nope"])
    assert unknown.exit_code == 2
    assert "error: --questions: unknown question(s) nope; questions: better, harmful" in (
        unknown.output)
    no_pairs = CliRunner().invoke(cli, [*base, "--pairs", "nowhere"])
    assert no_pairs.exit_code == 2 and "--pairs `nowhere` is neither a dataset" in no_pairs.output


def test_train_refuses_a_failing_judge_and_records_a_passing_check(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    path = write_project(tmp_path, model=str(tiny_model_dir), pairs=same_reply_pairs(2),
                         extra="min_judge_accuracy = 0.5\n  questions = [harmful]")
    text = path.read_text().replace("questions = [better, harmful]\n", "")
    path.write_text(text, "utf-8")
    args = ["train", str(path), "--run-dir", str(tmp_path / "runs"), "--device", "cpu"]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 1, refused.output
    assert "the judge check failed" in refused.output and "`harmful` 0 %" in refused.output
    assert not (tmp_path / "runs" / "feedback" / "preferences.jsonl").exists()

    path.write_text(text.replace("min_judge_accuracy = 0.5", "min_judge_accuracy = 0.0"),
                    "utf-8")
    passed = CliRunner().invoke(cli, args)
    assert passed.exit_code == 0, passed.output
    manifest = json.loads((tmp_path / "runs" / "feedback" / "manifest.json").read_text())
    check = manifest["metrics"]["judge_check"]
    assert (check["pairs"], check["threshold"], check["passed"]) == (2, 0.0, True)
    assert [q["question"] for q in check["questions"]] == ["harmful"]
    assert check["questions"][0]["accuracy"] == 0.0
