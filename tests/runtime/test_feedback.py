"""The AI-feedback stage: preference math, the program with a fake judge, a tiny-model run."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from constlang import plan as P
from constlang.cli.train import train
from constlang.runtime import preferences as pref
from constlang.runtime.generate import Generation
from constlang.runtime.rundir import StageDir
from constlang.runtime.sampling import QuestionSampler
from constlang.runtime.stages.feedback import Feedback, FeedbackError

from .helpers import compile_with_prompts

SIGMA2 = 1 / (1 + math.exp(-2))  # P(first option) when its log-prob leads by 2

# ---------------------------------------------------------------- the arithmetic


def test_first_option_probability_is_a_softmax_over_the_two_options() -> None:
    assert pref.first_option_probability([math.log(0.2), math.log(0.3)]) == pytest.approx(0.4)
    assert pref.first_option_probability([-5.0, -7.0]) == pytest.approx(SIGMA2)
    assert pref.first_option_probability([0.0, -2.0]) == pytest.approx(
        pref.first_option_probability([-100.0, -102.0]))  # only the difference counts
    assert pref.first_option_probability([0.0, -1000.0]) == 1.0  # no overflow either way
    assert pref.first_option_probability([-1000.0, 0.0]) == pytest.approx(0.0)
    assert pref.option_probability([0.0, -2.0], 1) == pytest.approx(1 - SIGMA2)
    with pytest.raises(ValueError):
        pref.first_option_probability([0.0, 1.0, 2.0])


def test_swap_average_and_position_consistency() -> None:
    # A judge that always picks the first slot: the average cancels, and it is inconsistent
    assert pref.swap_average(0.9, 0.9) == pytest.approx(0.5)
    assert pref.position_consistent(0.9, 0.9) is False
    # prefers A in slot 1 (0.8) and in slot 2 (first option = B gets 0.3)
    assert pref.swap_average(0.8, 0.3) == pytest.approx(0.75)
    assert pref.position_consistent(0.8, 0.3) is True
    assert pref.position_consistent(0.5, 0.5) is True  # undecided in both orders
    assert pref.position_consistent(0.5, 0.9) is False


def test_clamp_labels_and_chosen() -> None:
    assert [pref.clamp(p, [0.4, 0.6]) for p in (0.1, 0.5, 0.99)] == [0.4, 0.5, 0.6]
    assert pref.clamp(0.99, None) == 0.99
    assert [pref.label(p, "hard") for p in (0.51, 0.49, 0.5)] == [1.0, 0.0, 0.5]
    assert pref.label(0.7, "soft") == 0.7
    assert pref.chosen_rejected("a", "b", 0.3) == ("b", "a")
    assert pref.chosen_rejected("a", "b", 0.5) == ("a", "b")  # a tie keeps the order
    assert pref.pointwise_preference(0.9, 0.3) == pytest.approx(0.75)
    assert pref.pointwise_preference(0.0, 0.0) == 0.5
    assert pref.weighted_mean([0.2, 0.8], [3.0, 1.0]) == pytest.approx(0.35)


# ---------------------------------------------------------------- the program, faked

CONSTITUTION = """constlang 1

constitution "feedback-test" {{ version = "0.1.0" }}

question better {{ text = "QUESTION-BETTER: which is better?" }}
question kinder {{ text = "QUESTION-KINDER: which is kinder?"  weight = 3 }}
question harmful {{
  text = "QUESTION-HARMFUL: is it harmful?"
  kind = pointwise
  good_answer = "No"
}}
question helpful {{
  text = "QUESTION-HELPFUL: is it helpful?"
  kind = pointwise
  options = ["Good", "Bad"]
  good_answer = "Good"
}}
question unused {{ text = "never"  weight = 0 }}

model m {{ source = "unused"  temperature = {temperature} }}
dataset d {{ path = "prompts.jsonl" }}

stage feedback {{
  policy = m
  judge = m
  prompts = d
  batch_size = 2
  questions = {questions}
  {extra}
}}
"""


def make_job(tmp_path: Path, *, n: int = 4, questions: str = "[better]", extra: str = "",
             temperature: float = 0.7) -> tuple[Feedback, list]:
    text = CONSTITUTION.format(questions=questions, extra=extra, temperature=temperature)
    result, prompts = compile_with_prompts(tmp_path, text, n)
    assert result.plan is not None
    job = Feedback.from_plan(result.plan, "feedback")
    job.make_settings = lambda model, seed: {"seed": seed}
    return job, prompts


class FakeEngine:
    """Policy and judge in one. The policy answers GOOD then BAD for even prompts, BAD then
    GOOD for odd ones. The judge favours the GOOD reply (`judge = "good"`) or always the first
    slot (`judge = "slot"`); in pointwise prompts it favours the first option for a GOOD reply.
    """

    def __init__(self, judge: str = "good") -> None:
        self.judge = judge
        self.respond_calls = 0
        self.generated: list[list[str]] = []
        self.scored: list[tuple[list[str], list[str]]] = []

    def generate_full(self, prompts: list[list[dict[str, str]]], settings: Any,
                      progress: Any = None) -> list[Generation]:
        return [Generation(t, "eos", len(t.split())) for t in self.generate(prompts, settings,
                                                                              progress)]

    def generate(self, prompts: list[list[dict[str, str]]], settings: Any,
                 progress: Any = None) -> list[str]:
        texts = [chat[-1]["content"] for chat in prompts]
        self.generated.append(texts)
        if "Think it through" in texts[0]:
            return [f"RATIONALE({t.split('(A) ')[1].splitlines()[0]})" for t in texts]
        self.respond_calls += 1
        first = self.respond_calls % 2 == 1
        out = []
        for t in texts:
            even = int(t.split("-")[1]) % 2 == 0
            out.append(f"{'GOOD' if even == first else 'BAD'} reply to {t}")
        return out

    def score_options(self, prompts: list[list[dict[str, str]]], options: list[str],
                      **policy: Any) -> list[list[float]]:
        assert set(policy) == {"overflow", "context_length"}
        texts = [chat[-1]["content"] for chat in prompts]
        self.scored.append((texts, options))
        out = []
        for t in texts:
            if self.judge == "slot":
                out.append([0.0, -2.0])
            elif "Assistant:" in t:  # pointwise
                out.append([0.0, -2.0] if "Assistant: GOOD" in t else [-2.0, 0.0])
            else:
                first_slot = t.split(f"{options[0]} ")[1].splitlines()[0]
                out.append([0.0, -2.0] if first_slot.startswith("GOOD") else [-2.0, 0.0])
        return out


def read_rows(path: Path) -> list[dict[str, Any]]:
    text = StageDir(path.parent, path.name).preferences.read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_a_judge_that_always_picks_slot_a_gives_one_half_and_is_inconsistent(
        tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, extra='labels = "hard"')
    metrics = job.run(FakeEngine("slot"), FakeEngine("slot"), prompts, StageDir(tmp_path, "out"))
    rows = read_rows(tmp_path / "out")
    assert all(r["p_a"] == pytest.approx(0.5) for r in rows)
    judgement = rows[0]["judgements"][0]
    assert judgement["consistent"] is False
    assert [o["order"] for o in judgement["orders"]] == ["ab", "ba"]
    assert [o["p"] for o in judgement["orders"]] == pytest.approx([SIGMA2, SIGMA2])
    assert all(r["label"] == 0.5 for r in rows)  # hard labels: a tie
    assert all((r["chosen"], r["rejected"]) == (r["response_a"], r["response_b"]) for r in rows)
    assert metrics["position_consistency"] == 0.0 and metrics["label_ties"] == 1.0
    assert metrics["mean_confidence"] == 0.0 and metrics["mean_p_a"] == 0.5
    # 2 chunks of 2 prompts: two policy samplings and one judge scoring call each
    assert (metrics["policy_calls"], metrics["judge_calls"]) == (4, 2)


def test_a_consistent_judge_prefers_the_good_reply_in_both_orders(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=5)
    engine = FakeEngine("good")
    metrics = job.run(engine, engine, prompts, StageDir(tmp_path, "out"))
    rows = read_rows(tmp_path / "out")
    assert [r["index"] for r in rows] == [0, 1, 2, 3, 4]
    assert set(rows[0]) == {"index", "prompt_id", "prompt", "response_a", "response_b",
                            "finish_a", "finish_b", "judgements", "p_a", "label", "chosen",
                            "rejected", "drop", "plan_hash"}
    assert all((r["finish_a"], r["finish_b"], r["drop"]) == ("eos", "eos", None) for r in rows)
    assert set(rows[0]["judgements"][0]) == {"question", "kind", "p_a", "orders", "consistent",
                                             "rationale"}
    for r in rows:
        good_is_a = r["response_a"].startswith("GOOD")
        assert good_is_a == (r["index"] % 2 == 0)
        assert r["p_a"] == pytest.approx(SIGMA2 if good_is_a else 1 - SIGMA2)
        assert r["label"] == r["p_a"]  # soft labels
        i = r["index"]
        assert (r["chosen"], r["rejected"]) == (f"GOOD reply to PROMPT-{i}",
                                                f"BAD reply to PROMPT-{i}")
        assert r["judgements"][0]["consistent"] is True
    assert metrics["pairs"] == 5 and metrics["position_consistency"] == 1.0
    assert metrics["mean_confidence"] == round(SIGMA2 - 0.5, 4)
    assert metrics["mean_p_a"] == round((3 * SIGMA2 + 2 * (1 - SIGMA2)) / 5, 4)  # A good 3×
    assert (metrics["label_ties"], metrics["swapped_judgements"], metrics["judgements"]) == (
        0.0, 5, 5)
    assert (metrics["policy_calls"], metrics["judge_calls"]) == (2 * 3, 3)  # 3 chunks
    # one scoring call per chunk covers both orders: 2 + 2 + 1 pairs, twice each
    assert [len(texts) for texts, _ in engine.scored] == [4, 4, 2]
    assert all(options == ["(A)", "(B)"] for _, options in engine.scored)
    swapped = engine.scored[0][0][2]
    assert "(A) BAD reply to PROMPT-0" in swapped and "(B) GOOD reply to PROMPT-0" in swapped


def test_without_swap_one_order_is_scored(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=2, extra="swap_positions = false")
    engine = FakeEngine("slot")
    job.run(engine, engine, prompts, StageDir(tmp_path, "out"))
    judgement = read_rows(tmp_path / "out")[0]["judgements"][0]
    assert judgement["consistent"] is None and len(judgement["orders"]) == 1
    assert judgement["p_a"] == pytest.approx(SIGMA2)  # the bias goes straight into the label
    assert [len(texts) for texts, _ in engine.scored] == [2]  # the 2 prompts, one order each


def test_chain_of_thought_passes_the_rationale_and_clamps(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=2,
                            extra="chain_of_thought = true\n  clamp = [0.4, 0.6]")
    engine = FakeEngine("good")
    metrics = job.run(engine, engine, prompts, StageDir(tmp_path, "out"))
    rationale_calls = [texts for texts in engine.generated if "Think it through" in texts[0]]
    assert [len(texts) for texts in rationale_calls] == [2, 2]  # one call per order
    assert (metrics["policy_calls"], metrics["judge_calls"]) == (2, 2 + 1)  # + one scoring
    compare = engine.scored[0][0]
    assert "Reasoning: RATIONALE(GOOD reply to PROMPT-0)" in compare[0]
    assert "Reasoning: RATIONALE(BAD reply to PROMPT-0)" in compare[2]  # the swapped order's
    rows = read_rows(tmp_path / "out")
    judgement = rows[0]["judgements"][0]
    assert judgement["rationale"] == "RATIONALE(GOOD reply to PROMPT-0)"
    assert judgement["orders"][1]["rationale"] == "RATIONALE(BAD reply to PROMPT-0)"
    assert [r["p_a"] for r in rows] == [0.6, 0.4]  # σ(2) = 0.88 clamped


@pytest.mark.parametrize(("question", "good_reply_p"), [
    ("harmful", 1 - SIGMA2),  # good_answer = "No", the second option: the GOOD reply says Yes
    ("helpful", SIGMA2),  # good_answer = "Good", the first option
])
def test_pointwise_normalises_the_good_answer(tmp_path: Path, question: str,
                                              good_reply_p: float) -> None:
    job, prompts = make_job(tmp_path, n=2, questions=f"[{question}]")
    engine = FakeEngine("good")
    job.run(engine, engine, prompts, StageDir(tmp_path, "out"))
    row = read_rows(tmp_path / "out")[0]  # response_a is the GOOD one
    judgement = row["judgements"][0]
    assert judgement["kind"] == "pointwise" and judgement["consistent"] is None
    assert [o["order"] for o in judgement["orders"]] == ["a", "b"]
    p_good_a, p_good_b = good_reply_p, 1 - good_reply_p
    assert [o["p"] for o in judgement["orders"]] == pytest.approx([p_good_a, p_good_b])
    assert row["p_a"] == pytest.approx(p_good_a / (p_good_a + p_good_b))
    texts = engine.scored[0][0]
    assert len(texts) == 4 and "Assistant: GOOD reply to PROMPT-0" in texts[0]


def test_per_comparison_sampling_is_deterministic_and_weighted() -> None:
    questions = [P.Question(id="a", text="a"), P.Question(id="b", text="b", weight=3.0),
                 P.Question(id="z", text="z", weight=0.0)]
    sampler = QuestionSampler(questions, "per_comparison", seed=7)
    picks = [sampler.choose(i)[0].id for i in range(4000)]
    assert picks == [sampler.choose(i)[0].id for i in range(4000)]  # same on resume
    counts = Counter(picks)
    assert counts["z"] == 0
    assert counts["b"] / len(picks) == pytest.approx(0.75, abs=0.03)
    other = QuestionSampler(questions, "per_comparison", seed=8)
    assert picks != [other.choose(i)[0].id for i in range(4000)]
    assert [q.id for q in QuestionSampler(questions, "all", 0).choose(5)] == ["a", "b"]


def test_all_questions_are_averaged_by_weight(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=2, questions="[better, kinder, harmful, unused]",
                            extra='question_sampling = "all"')
    engine = FakeEngine("good")
    job.run(engine, engine, prompts, StageDir(tmp_path, "out"))
    row = read_rows(tmp_path / "out")[0]  # response_a is the GOOD one
    assert [j["question"] for j in row["judgements"]] == ["better", "kinder", "harmful"]
    # the pairwise questions favour A; `harmful` (good answer No) favours the reply saying Yes
    ps = [j["p_a"] for j in row["judgements"]]
    assert ps == pytest.approx([SIGMA2, SIGMA2, 1 - SIGMA2])
    assert row["p_a"] == pytest.approx((SIGMA2 * 1 + SIGMA2 * 3 + (1 - SIGMA2) * 1) / 5)
    # pairwise and pointwise options differ: one scoring call for each option pair
    assert [(len(texts), options) for texts, options in engine.scored] == [
        (2 * 2 * 2, ["(A)", "(B)"]), (2 * 2, ["Yes", "No"])]  # prompts × questions × orders


def test_rows_load_with_datasets_for_preference_trainers(tmp_path: Path) -> None:
    from datasets import load_dataset

    job, prompts = make_job(tmp_path, n=3, questions="[better, helpful]",
                            extra='question_sampling = "all"')
    engine = FakeEngine("good")
    job.run(engine, engine, prompts, StageDir(tmp_path, "out"))
    path = StageDir(tmp_path, "out").preferences
    data = load_dataset("json", data_files=str(path), split="train")
    assert len(data) == 3
    assert set(data.column_names) == {"index", "prompt_id", "prompt", "response_a", "response_b",
                                      "finish_a", "finish_b", "judgements", "p_a", "label",
                                      "chosen", "rejected", "drop", "plan_hash"}
    assert data[1]["prompt"] == "PROMPT-1" and data[1]["chosen"] == "GOOD reply to PROMPT-1"
    assert data[0]["judgements"][1]["orders"][0]["order"] == "a"


def test_rerun_drops_a_partial_line_and_skips_written_rows(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=5)
    job.run(FakeEngine(), FakeEngine(), prompts[:2], StageDir(tmp_path, "out"))
    path = StageDir(tmp_path, "out").preferences
    before = path.read_bytes()
    with path.open("ab") as fh:
        fh.write(b'{"index": 2, "prompt_id": "q2", "pro')  # a write cut by a kill
    engine = FakeEngine()
    metrics = job.run(engine, engine, prompts, StageDir(tmp_path, "out"), on_resume=lambda n: None)
    assert path.read_bytes().startswith(before)
    assert [r["index"] for r in read_rows(tmp_path / "out")] == [0, 1, 2, 3, 4]
    assert sum(len(t) for t in engine.generated) == 2 * 3  # only prompts 2, 3 and 4 sampled
    assert [len(texts) for texts, _ in engine.scored] == [2 * 2, 2]  # chunks [2, 3] and [4]
    assert metrics["resumed_rows"] == 2 and metrics["pairs"] == 5


def test_greedy_policy_is_refused(tmp_path: Path) -> None:
    job, _ = make_job(tmp_path, temperature=0)
    with pytest.raises(FeedbackError, match="temperature 0.*CL406"):
        job.check_sampling()


def test_preview_shows_each_step_with_placeholders(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=2, questions="[better, harmful]",
                            extra='question_sampling = "all"\n  chain_of_thought = true')
    shown = job.preview(prompts)
    steps = [title.split(" · ")[2].split(" ")[0] for title, _ in shown]
    assert steps == ["respond", "rationale", "compare", "pointwise"] * 2
    assert shown[0][1] == [{"role": "user", "content": "PROMPT-0"}]
    assert "(A) <reply A>" in shown[2][1][0]["content"]
    assert "Reasoning: <the judge's rationale>" in shown[2][1][0]["content"]
    assert "Assistant: <reply A>" in shown[3][1][0]["content"]


# ---------------------------------------------------------------- a real run, tiny model

PIPELINE = """constlang 1

constitution "feedback-run" {{ version = "0.1.0" }}

principle harm {{ critique = "Find the harm."  revision = "Remove the harm." }}
question better {{ text = "Which reply is better?" }}
question harmful {{ text = "Is it harmful?"  kind = pointwise  good_answer = "No" }}
model tiny {{ source = "{model}"  max_new_tokens = 4 }}
dataset d {{ path = "p.jsonl" }}

stage critique_revision {{
  model = tiny  prompts = d  keep_truncated = true  revisions = 1  batch_size = 2
}}
stage sft {{ from = critique_revision  batch_size = 4  max_length = 128 }}
stage feedback {{
  policy = sft
  judge = tiny
  prompts = d
  questions = all
  question_sampling = all
  batch_size = 2
}}
stage reward_model {{ from = feedback }}
"""


def softmax_first(logprobs: list[float]) -> float:
    """P(first of two options) from their log-probabilities, computed without `preferences`."""
    first, second = logprobs
    return math.exp(first) / (math.exp(first) + math.exp(second))


def assert_logprobs_are_the_judges_scores(path: Path, rows: list[dict[str, Any]],
                                          model_dir: Path) -> None:
    """Re-score every judge prompt of the run with the judge model, the way the stage batches
    them (per chunk of 2 prompts, one call per option pair): the same calls give the same
    floats, so the recorded log-probs must be exactly these."""
    from constlang.compile import compile_path
    from constlang.runtime.data import PromptRow
    from constlang.runtime.generate import GenerationEngine
    from constlang.runtime.models import load_model

    plan = compile_path(path).plan
    assert plan is not None
    job = Feedback.from_plan(plan, "feedback")
    better, harmful = job.sampler.questions
    engine = GenerationEngine(load_model(plan.model("tiny"), device="cpu"), batch_size=2)
    for chunk in (rows[:2], rows[2:]):
        pairs = [(PromptRow(r["index"], r["prompt_id"], r["prompt"]), r["response_a"],
                  r["response_b"]) for r in chunk]
        compare = [job.compare_prompt(p, a, b, better, None) for p, a, b in pairs] + [
            job.compare_prompt(p, b, a, better, None) for p, a, b in pairs]
        pointwise = [job.pointwise_prompt(p, text, harmful)
                     for p, a, b in pairs for text in (a, b)]
        by_order = engine.score_options(compare, ["(A)", "(B)"])
        by_reply = engine.score_options(pointwise, ["Yes", "No"])
        k = len(chunk)
        for i, r in enumerate(chunk):
            assert [o["logprobs"] for o in r["judgements"][0]["orders"]] == [
                by_order[i], by_order[k + i]]
            assert [o["logprobs"] for o in r["judgements"][1]["orders"]] == [
                by_reply[2 * i], by_reply[2 * i + 1]]


def test_train_runs_critique_revision_sft_and_feedback_then_skips(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    path = tmp_path / "c.const"
    path.write_text(PIPELINE.format(model=tiny_model_dir), "utf-8")
    (tmp_path / "p.jsonl").write_text("".join(
        json.dumps({"prompt": f"Question {i}?"}) + "\n" for i in range(3)), "utf-8")
    runs = tmp_path / "runs"
    args = [str(path), "--run-dir", str(runs), "--device", "cpu",
            "--stages", "critique_revision,sft,feedback"]

    dry = CliRunner().invoke(train, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "feedback · prompt d-0 · compare" in dry.output and "<reply B>" in dry.output

    result = CliRunner().invoke(train, args)
    assert result.exit_code == 0, result.output
    rows = read_rows(runs / "feedback")
    assert [r["index"] for r in rows] == [0, 1, 2]
    for r in rows:
        assert [(j["question"], j["kind"]) for j in r["judgements"]] == [
            ("better", "pairwise"), ("harmful", "pointwise")]
        better, harmful = r["judgements"]
        # pairwise, both orders: each p is the softmax of that order's recorded log-probs
        assert [o["order"] for o in better["orders"]] == ["ab", "ba"]
        p_ab, p_ba = (softmax_first(o["logprobs"]) for o in better["orders"])
        assert [o["p"] for o in better["orders"]] == pytest.approx([p_ab, p_ba], abs=1e-9)
        assert better["p_a"] == pytest.approx((p_ab + 1 - p_ba) / 2, abs=1e-9)
        assert better["consistent"] is ((p_ab > 0.5) == (1 - p_ba > 0.5))
        # pointwise, good_answer = "No" (the second option), A and B judged alone
        assert [o["order"] for o in harmful["orders"]] == ["a", "b"]
        no_a, no_b = (1 - softmax_first(o["logprobs"]) for o in harmful["orders"])
        assert [o["p"] for o in harmful["orders"]] == pytest.approx([no_a, no_b], abs=1e-9)
        assert harmful["p_a"] == pytest.approx(no_a / (no_a + no_b), abs=1e-9)
        assert harmful["consistent"] is None
        # both questions weigh 1; soft labels keep p_a; the label picks chosen and rejected
        assert r["p_a"] == pytest.approx((better["p_a"] + harmful["p_a"]) / 2, abs=1e-9)
        assert r["label"] == r["p_a"]
        a_wins = r["label"] >= 0.5
        assert (r["chosen"], r["rejected"]) == (
            (r["response_a"], r["response_b"]) if a_wins else (r["response_b"], r["response_a"]))
    assert_logprobs_are_the_judges_scores(path, rows, tiny_model_dir)

    n = len(rows)
    consistency = round(sum(r["judgements"][0]["consistent"] for r in rows) / n, 4)
    confidence = round(sum(abs(r["p_a"] - 0.5) for r in rows) / n, 4)
    manifest = json.loads((runs / "feedback" / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    metrics = manifest["metrics"]
    assert {k: metrics[k] for k in (
        "pairs", "judgements", "mean_p_a", "mean_confidence", "label_ties", "identical_pairs",
        "swapped_judgements", "position_consistency", "resumed_rows")} == {
        "pairs": 3, "judgements": 6, "mean_p_a": round(sum(r["p_a"] for r in rows) / n, 4),
        "mean_confidence": confidence,
        "label_ties": round(sum(r["label"] == 0.5 for r in rows) / n, 4),
        "identical_pairs": sum(r["response_a"] == r["response_b"] for r in rows),
        "swapped_judgements": 3, "position_consistency": consistency, "resumed_rows": 0}
    # 2 chunks (batch_size 2, 3 prompts): each samples twice, and scores once per option pair
    # ((A)/(B) for `better`, Yes/No for `harmful`)
    assert (metrics["policy_calls"], metrics["judge_calls"]) == (4, 4)
    # a random tiny policy never ends a reply: every pair is cut at max_new_tokens and dropped
    assert metrics["truncated_pairs"] == 3
    assert {(r["finish_a"], r["finish_b"], r["drop"]) for r in rows} == {
        ("length", "length", "truncated")}
    policy, judge = metrics["generation"]["policy"], metrics["generation"]["judge"]
    assert (policy["calls"], policy["prompts"], policy["score_calls"]) == (4, 2 * 3, 0)
    # scored prompts: 2 orders of `better` + replies A and B for `harmful`, per prompt
    assert (judge["calls"], judge["score_calls"], judge["scored_prompts"]) == (0, 4, 4 * 3)
    assert (f"feedback: 3 pairs, position-consistent {consistency * 100:.0f} %, "
            f"mean confidence {confidence:.2f}") in result.output
    logged = [json.loads(line) for line in (runs / "feedback" / "metrics.jsonl").open()]
    assert [(e["chunk"], e["pairs"]) for e in logged if e["event"] == "chunk"] == [(0, 2), (1, 1)]

    again = CliRunner().invoke(train, args)
    assert again.exit_code == 0, again.output
    assert again.output.count("completed earlier with the same inputs; skipped") == 3

    full = CliRunner().invoke(train, args[:-2])  # every stage: the reward model has no pairs
    assert full.exit_code == 1
    assert ("error: stage `reward_model`: no preference pairs to train on in "
            f"{runs / 'feedback' / 'preferences.jsonl'} (left out: 3 dropped, 0 identical, "
            "0 ties)") in " ".join(full.output.split())
