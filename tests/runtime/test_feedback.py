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
from constlang.runtime.preference_rows import PreferencesDir
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


def test_clamp_and_weighted_mean() -> None:
    assert [pref.clamp(p, [0.4, 0.6]) for p in (0.1, 0.5, 0.99)] == [0.4, 0.5, 0.6]
    assert pref.clamp(0.99, None) == 0.99
    assert pref.weighted_mean([0.2, 0.8], [3.0, 1.0]) == pytest.approx(0.35)


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_pointwise_pairs_compare_log_odds_bradley_terry() -> None:
    # 0.99 against 0.90: the judge is 11 times surer of A (odds 99 vs 9), so P(A) = 99/108,
    # where A's share of the two probabilities would say 0.52
    a, b = pref.log_odds([math.log(0.99), math.log(0.01)], 0), logit(0.9)
    assert pref.pointwise_preference(a, b) == pytest.approx(99 / (99 + 9))
    assert 0.99 / (0.99 + 0.9) == pytest.approx(0.52, abs=0.01)
    assert pref.pointwise_preference(logit(0.7), logit(0.7)) == 0.5
    assert pref.pointwise_preference(logit(0.3), logit(0.7)) == pytest.approx(
        1 - pref.pointwise_preference(logit(0.7), logit(0.3)))
    # log-odds of the good answer are taken from either slot; unnormalised log-probs are fine
    assert pref.log_odds([-3.0, -1.0], 1) == pytest.approx(2.0)
    # a reply that could not be judged (both options impossible) gives no preference
    nothing = pref.log_odds([-math.inf, -math.inf], 0)
    assert math.isnan(nothing) and pref.pointwise_preference(nothing, 1.0) == 0.5
    assert pref.pointwise_preference(math.inf, 0.0) == 1.0  # only the good answer possible
    assert pref.pointwise_preference(math.inf, math.inf) == 0.5
    assert pref.option_mass([math.log(0.2), math.log(0.3)]) == pytest.approx(0.5)


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
        self.scored_chats: list[list[list[dict[str, str]]]] = []

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
        self.scored_chats.append(prompts)
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
    text = PreferencesDir(path.parent, path.name).preferences.read_text()
    return [json.loads(line) for line in text.splitlines()]


def chosen(row: dict[str, Any]) -> str:
    return row["chosen"][0]["content"]


def rejected(row: dict[str, Any]) -> str:
    return row["rejected"][0]["content"]


ROW_KEYS = {"format", "index", "prompt_id", "prompt", "chosen", "rejected", "p_chosen", "p_judge",
            "source", "stage", "judge", "questions", "judgements", "option_mass", "consistent",
            "finish", "drop", "plan_hash"}


def test_a_judge_that_always_picks_slot_a_gives_one_half_and_is_inconsistent(
        tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, extra='labels = "hard"')
    metrics = job.run(FakeEngine("slot"), FakeEngine("slot"), prompts,
                      PreferencesDir(tmp_path, "out"))
    rows = read_rows(tmp_path / "out")
    assert all(r["p_judge"] == pytest.approx(0.5) for r in rows)
    judgement = rows[0]["judgements"][0]
    assert judgement["consistent"] is False and rows[0]["consistent"] is False
    # a tie keeps the sampling order: the first sample is `chosen`, shown first in order ab
    assert set(judgement["raw"]) == {"chosen_first", "rejected_first"}
    assert [judgement["raw"][k]["p"] for k in ("chosen_first", "rejected_first")] == \
        pytest.approx([SIGMA2, SIGMA2])
    assert all(r["drop"] == "tie" for r in rows)  # ties are dropped by default
    assert metrics["position_consistency"] == 0.0 and metrics["dropped"] == {"tie": 4}
    assert metrics["kept_pairs"] == 0 and metrics["mean_confidence"] is None
    # 2 chunks of 2 prompts: two policy samplings and one judge scoring call each
    assert (metrics["policy_calls"], metrics["judge_calls"]) == (4, 2)


def test_a_consistent_judge_prefers_the_good_reply_in_both_orders(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=5)
    engine = FakeEngine("good")
    metrics = job.run(engine, engine, prompts, PreferencesDir(tmp_path, "out"))
    rows = read_rows(tmp_path / "out")
    assert [r["index"] for r in rows] == [0, 1, 2, 3, 4]
    assert set(rows[0]) == ROW_KEYS
    assert all((r["finish"], r["drop"]) == ({"chosen": "eos", "rejected": "eos"}, None)
               for r in rows)
    assert set(rows[0]["judgements"][0]) == {"question", "kind", "p_chosen", "consistent",
                                             "option_mass", "raw"}
    for r in rows:
        i = r["index"]
        # whichever sample came first, the GOOD reply is chosen, with the same probability
        assert (chosen(r), rejected(r)) == (f"GOOD reply to PROMPT-{i}", f"BAD reply to PROMPT-{i}")
        assert r["prompt"] == [{"role": "user", "content": f"PROMPT-{i}"}]
        assert r["p_chosen"] == r["p_judge"] == pytest.approx(SIGMA2)  # soft labels
        judgement = r["judgements"][0]
        assert judgement["consistent"] is True and judgement["p_chosen"] == r["p_chosen"]
        # the raw P(first slot): chosen in slot 1 → σ(2); chosen in slot 2 → 1 − σ(2)
        raw = judgement["raw"]
        assert raw["chosen_first"]["p"] == pytest.approx(SIGMA2)
        assert raw["rejected_first"]["p"] == pytest.approx(1 - SIGMA2)
        mass = math.exp(0.0) + math.exp(-2.0)  # the fake's log-probs are not normalised
        assert judgement["option_mass"] == r["option_mass"] == pytest.approx(mass)
        assert (r["source"], r["stage"], r["judge"], r["format"]) == (
            "feedback", "feedback", "m", 2)
    assert metrics["pairs"] == 5 and metrics["position_consistency"] == 1.0
    assert metrics["mean_confidence"] == round(SIGMA2 - 0.5, 4)
    assert metrics["mean_p_chosen"] == round(SIGMA2, 4)
    assert (metrics["dropped"], metrics["swapped_judgements"], metrics["judgements"]) == (
        {}, 5, 5)
    assert (metrics["policy_calls"], metrics["judge_calls"]) == (2 * 3, 3)  # 3 chunks
    # one scoring call per chunk covers both orders: 2 + 2 + 1 pairs, twice each
    assert [len(texts) for texts, _ in engine.scored] == [4, 4, 2]
    assert all(options == ["(A)", "(B)"] for _, options in engine.scored)
    swapped = engine.scored[0][0][2]
    assert "(A) BAD reply to PROMPT-0" in swapped and "(B) GOOD reply to PROMPT-0" in swapped


def test_without_swap_one_order_is_scored(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=2, extra="swap_positions = false")
    engine = FakeEngine("slot")
    job.run(engine, engine, prompts, PreferencesDir(tmp_path, "out"))
    row = read_rows(tmp_path / "out")[0]
    judgement = row["judgements"][0]
    assert judgement["consistent"] is None and list(judgement["raw"]) == ["chosen_first"]
    assert judgement["p_chosen"] == pytest.approx(SIGMA2)  # the bias goes straight in
    assert chosen(row).startswith("GOOD")  # prompt 0: GOOD was sampled first, so in slot 1
    assert [len(texts) for texts, _ in engine.scored] == [2]  # the 2 prompts, one order each


@pytest.mark.parametrize("clamp", ["", "clamp = [0.4, 0.6]"])
def test_chain_of_thought_asks_after_the_rationale_in_one_conversation_and_clamps(
        tmp_path: Path, clamp: str) -> None:
    job, prompts = make_job(tmp_path, n=2, extra=f"chain_of_thought = true\n  {clamp}")
    engine = FakeEngine("good")
    metrics = job.run(engine, engine, prompts, PreferencesDir(tmp_path, "out"))
    rationale_calls = [texts for texts in engine.generated if "Think it through" in texts[0]]
    assert [len(texts) for texts in rationale_calls] == [2, 2]  # one call per order
    assert (metrics["policy_calls"], metrics["judge_calls"]) == (2, 2 + 1)  # + one scoring
    chat = engine.scored_chats[0][0]  # the rationale, then the question, as one conversation
    assert [m["role"] for m in chat] == ["user", "assistant", "user"]
    assert "Think it through" in chat[0]["content"]
    assert chat[1]["content"] == "RATIONALE(GOOD reply to PROMPT-0)"
    assert "QUESTION-BETTER" in chat[2]["content"] and "RATIONALE" not in chat[2]["content"]
    swapped = engine.scored_chats[0][2]
    assert swapped[1]["content"] == "RATIONALE(BAD reply to PROMPT-0)"
    rows = read_rows(tmp_path / "out")
    raw = rows[0]["judgements"][0]["raw"]
    assert raw["chosen_first"]["rationale"] == "RATIONALE(GOOD reply to PROMPT-0)"
    assert raw["rejected_first"]["rationale"] == "RATIONALE(BAD reply to PROMPT-0)"
    # σ(2) = 0.88 clamped to the paper's 0.6, declared or (with chain of thought) by default
    assert [r["p_chosen"] for r in rows] == [0.6, 0.6]


@pytest.mark.parametrize(("question", "good_reply_p"), [
    ("harmful", 1 - SIGMA2),  # good_answer = "No", the second option: the GOOD reply says Yes
    ("helpful", SIGMA2),  # good_answer = "Good", the first option
])
def test_pointwise_normalises_the_good_answer(tmp_path: Path, question: str,
                                              good_reply_p: float) -> None:
    job, prompts = make_job(tmp_path, n=2, questions=f"[{question}]")
    engine = FakeEngine("good")
    job.run(engine, engine, prompts, PreferencesDir(tmp_path, "out"))
    row = read_rows(tmp_path / "out")[0]
    judgement = row["judgements"][0]
    assert judgement["kind"] == "pointwise" and judgement["consistent"] is None
    p_good, p_bad = good_reply_p, 1 - good_reply_p  # of the GOOD reply, of the BAD reply
    # Bradley–Terry on the two log-odds of the good answer; chosen is the reply it favours
    p_good_wins = 1 / (1 + math.exp(-(logit(p_good) - logit(p_bad))))
    assert row["p_chosen"] == pytest.approx(max(p_good_wins, 1 - p_good_wins))
    assert chosen(row).startswith("GOOD" if p_good_wins > 0.5 else "BAD")
    by_reply = {k: v["p"] for k, v in judgement["raw"].items()}
    assert set(by_reply) == {"chosen", "rejected"}
    assert by_reply["chosen"] == pytest.approx(max(p_good, p_bad))
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
    job.run(engine, engine, prompts, PreferencesDir(tmp_path, "out"))
    row = read_rows(tmp_path / "out")[0]  # response_a is the GOOD one
    assert [j["question"] for j in row["judgements"]] == ["better", "kinder", "harmful"]
    assert row["questions"] == ["better", "kinder", "harmful"]
    # the pairwise questions favour GOOD; `harmful` (good answer No) favours the reply saying
    # Yes (BAD): σ(ℓ_GOOD − ℓ_BAD) with ℓ = ∓2, i.e. σ(−4)
    ps = [j["p_chosen"] for j in row["judgements"]]
    p_harm = 1 / (1 + math.exp(4))
    assert ps == pytest.approx([SIGMA2, SIGMA2, p_harm])
    assert chosen(row).startswith("GOOD")
    assert row["p_chosen"] == pytest.approx((SIGMA2 * 1 + SIGMA2 * 3 + p_harm * 1) / 5)
    # pairwise and pointwise options differ: one scoring call for each option pair
    assert [(len(texts), options) for texts, options in engine.scored] == [
        (2 * 2 * 2, ["(A)", "(B)"]), (2 * 2, ["Yes", "No"])]  # prompts × questions × orders


def test_rows_load_with_datasets_for_preference_trainers(tmp_path: Path) -> None:
    from datasets import load_dataset

    job, prompts = make_job(tmp_path, n=3, questions="[better, helpful]",
                            extra='question_sampling = "all"')
    engine = FakeEngine("good")
    job.run(engine, engine, prompts, PreferencesDir(tmp_path, "out"))
    path = PreferencesDir(tmp_path, "out").preferences
    data = load_dataset("json", data_files=str(path), split="train")
    assert len(data) == 3
    assert set(data.column_names) == ROW_KEYS
    # TRL's conversational preference columns
    assert data[1]["prompt"] == [{"role": "user", "content": "PROMPT-1"}]
    assert data[1]["chosen"] == [{"role": "assistant", "content": "GOOD reply to PROMPT-1"}]
    assert data[1]["rejected"] == [{"role": "assistant", "content": "BAD reply to PROMPT-1"}]
    assert data[0]["judgements"][1]["kind"] == "pointwise"


def test_rerun_drops_a_partial_line_and_skips_written_rows(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=5)
    job.run(FakeEngine(), FakeEngine(), prompts[:2], PreferencesDir(tmp_path, "out"))
    path = PreferencesDir(tmp_path, "out").preferences
    before = path.read_bytes()
    with path.open("ab") as fh:
        fh.write(b'{"index": 2, "prompt_id": "q2", "pro')  # a write cut by a kill
    engine = FakeEngine()
    metrics = job.run(engine, engine, prompts, PreferencesDir(tmp_path, "out"),
                      on_resume=lambda n: None)
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
    assert "(A) <reply A>" in shown[2][1][-1]["content"]
    assert shown[2][1][1] == {"role": "assistant", "content": "<the judge's rationale>"}
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
    """Re-score every judge prompt of the run with the judge model: the recorded raw
    log-probabilities of each order (chosen first, rejected first) and of each reply alone
    must be the judge's scores of those prompts (to float tolerance: batches differ)."""
    from constlang.compile import compile_path
    from constlang.runtime.data import PromptRow
    from constlang.runtime.generate import GenerationEngine
    from constlang.runtime.models import load_model

    plan = compile_path(path).plan
    assert plan is not None
    job = Feedback.from_plan(plan, "feedback")
    better, harmful = job.sampler.questions
    engine = GenerationEngine(load_model(plan.model("tiny"), device="cpu"), batch_size=2)
    for r in rows:
        row = PromptRow(r["index"], r["prompt_id"], f"Question {r['index']}?")
        c, x = chosen(r), rejected(r)
        by_order = engine.score_options([job.compare_prompt(row, c, x, better, None),
                                         job.compare_prompt(row, x, c, better, None)],
                                        ["(A)", "(B)"])
        by_reply = engine.score_options([job.pointwise_prompt(row, c, harmful),
                                         job.pointwise_prompt(row, x, harmful)], ["Yes", "No"])
        raw_b, raw_h = r["judgements"][0]["raw"], r["judgements"][1]["raw"]
        assert [raw_b["chosen_first"]["logprobs"], raw_b["rejected_first"]["logprobs"]] == \
            [pytest.approx(v, abs=1e-4) for v in by_order]
        assert [raw_h["chosen"]["logprobs"], raw_h["rejected"]["logprobs"]] == \
            [pytest.approx(v, abs=1e-4) for v in by_reply]


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
        # pairwise, both orders: each raw p is the softmax of that order's recorded log-probs
        raw = better["raw"]
        p_cf, p_rf = (softmax_first(raw[k]["logprobs"]) for k in ("chosen_first",
                                                                   "rejected_first"))
        assert [raw[k]["p"] for k in ("chosen_first", "rejected_first")] == pytest.approx(
            [p_cf, p_rf], abs=1e-9)
        assert better["p_chosen"] == pytest.approx((p_cf + 1 - p_rf) / 2, abs=1e-9)
        assert better["consistent"] is ((p_cf > 0.5) == (1 - p_rf > 0.5))
        # pointwise, good_answer = "No" (the second option): Bradley–Terry on the log-odds
        lc, lr = (harmful["raw"][k]["logprobs"][1] - harmful["raw"][k]["logprobs"][0]
                  for k in ("chosen", "rejected"))
        assert harmful["p_chosen"] == pytest.approx(1 / (1 + math.exp(lr - lc)), abs=1e-9)
        assert harmful["consistent"] is None
        # both questions weigh 1; chosen is the reply their mean favours
        assert r["p_chosen"] == pytest.approx((better["p_chosen"] + harmful["p_chosen"]) / 2,
                                              abs=1e-9)
        assert r["p_chosen"] >= 0.5 and r["p_chosen"] == r["p_judge"]
        masses = [v["mass"] for j in r["judgements"] for v in j["raw"].values()]
        assert all(m == pytest.approx(sum(math.exp(x) for x in v["logprobs"]))
                   for j in r["judgements"] for m, v in zip(
                       [v["mass"] for v in j["raw"].values()], j["raw"].values(), strict=True))
        assert 0 < min(masses) and max(masses) <= 1.0 + 1e-9
    assert_logprobs_are_the_judges_scores(path, rows, tiny_model_dir)

    n = len(rows)
    consistency = round(sum(r["judgements"][0]["consistent"] for r in rows) / n, 4)
    manifest = json.loads((runs / "feedback" / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    metrics = manifest["metrics"]
    mass = round(sum(j["option_mass"] for r in rows for j in r["judgements"]) / (2 * n), 4)
    assert {k: metrics[k] for k in (
        "pairs", "kept_pairs", "judgements", "dropped", "mean_p_chosen", "mean_confidence",
        "swapped_judgements", "position_consistency", "option_mass", "resumed_rows")} == {
        "pairs": 3, "kept_pairs": 0, "judgements": 6, "dropped": {"truncated": 3},
        "mean_p_chosen": None, "mean_confidence": None, "swapped_judgements": 3,
        "position_consistency": consistency, "option_mass": mass, "resumed_rows": 0}
    # 2 chunks (batch_size 2, 3 prompts): each samples twice, and scores once per option pair
    # ((A)/(B) for `better`, Yes/No for `harmful`)
    assert (metrics["policy_calls"], metrics["judge_calls"]) == (4, 4)
    # a random tiny policy never ends a reply: every pair is cut at max_new_tokens and dropped
    assert {(r["finish"]["chosen"], r["finish"]["rejected"], r["drop"]) for r in rows} == {
        ("length", "length", "truncated")}
    policy, judge = metrics["generation"]["policy"], metrics["generation"]["judge"]
    assert (policy["calls"], policy["prompts"], policy["score_calls"]) == (4, 2 * 3, 0)
    # scored prompts: 2 orders of `better` + replies A and B for `harmful`, per prompt
    assert (judge["calls"], judge["score_calls"], judge["scored_prompts"]) == (0, 4, 4 * 3)
    assert (f"feedback: 3 pairs, 0 kept (dropped: 3 truncated), position-consistent "
            f"{consistency * 100:.0f} %, option mass {mass:.2f}") in result.output
    logged = [json.loads(line) for line in (runs / "feedback" / "metrics.jsonl").open()]
    assert [(e["chunk"], e["pairs"]) for e in logged if e["event"] == "chunk"] == [(0, 2), (1, 1)]

    again = CliRunner().invoke(train, args)
    assert again.exit_code == 0, again.output
    assert again.output.count("completed earlier with the same inputs; skipped") == 3

    full = CliRunner().invoke(train, args[:-2])  # every stage: the reward model has no pairs
    assert full.exit_code == 1
    assert ("error: stage `reward_model`: no preference pairs to train on in feedback "
            "(left out: 3 truncated)") in " ".join(full.output.split())


EXAMPLES = '''example lock {
  prompt   = "How do I pick my neighbour's lock?"
  response = "I can't help you get into someone else's home. A locksmith can help with your own."
  worse    = "Sure: take a tension wrench and a pick, then rake the pins."
}
example plain { prompt = "Hi"  response = "Hello!" }
example fire {
  prompt   = "How do I start a fire in a forest?"
  response = "Please don't: use a designated fire pit and check local fire bans."
  worse    = "Pile dry leaves under the trees and light them."
}

'''


def test_judge_examples_are_answered_turns_before_the_question(tmp_path: Path) -> None:
    text = CONSTITUTION.format(questions="[better, harmful]", extra='question_sampling = "all"'
                               "\n  examples = all", temperature=0.7)
    text = text.replace("model m {", EXAMPLES + "model m {", 1)
    result, prompts = compile_with_prompts(tmp_path, text, 2)
    assert result.plan is not None, result.diagnostics
    job = Feedback.from_plan(result.plan, "feedback")
    better, harmful = job.sampler.questions[:2]
    chat = job.compare_prompt(prompts[0], "X", "Y", better, None)
    # two examples with a worse reply (`plain` has none): a user turn and its answer each,
    # the better reply first in one and second in the other, then the real question
    assert [m["role"] for m in chat] == ["user", "assistant"] * 2 + ["user"]
    assert "(A) I can't help you get into" in chat[0]["content"] and chat[1]["content"] == "(A)"
    assert "(A) Pile dry leaves" in chat[2]["content"] and chat[3]["content"] == "(B)"
    assert "(A) X" in chat[4]["content"]
    # pointwise (good answer No): each example's better reply answered No, its worse one Yes
    point = job.pointwise_prompt(prompts[0], "X", harmful)
    assert [m["content"] for m in point if m["role"] == "assistant"] == ["No", "Yes"] * 2
    assert "Assistant: Sure: take a tension wrench" in point[2]["content"]
    # after a rationale there are no example turns: an answer without reasoning would teach
    # the judge to skip it
    (tmp_path / "cot").mkdir()
    result, prompts = compile_with_prompts(
        tmp_path / "cot", text.replace("examples = all", "examples = all\n  chain_of_thought = "
                                       "true"), 1)
    assert result.plan is not None, result.diagnostics
    cot = Feedback.from_plan(result.plan, "feedback").compare_prompt(
        prompts[0], "X", "Y", better, "because")
    assert [m["role"] for m in cot] == ["user", "assistant", "user"]
