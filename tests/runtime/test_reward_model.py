"""The reward-model stage: pairs from preferences, the soft loss against TRL's, held-out metrics,
and a whole stage on a tiny model."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
import torch
from rich.console import Console

from constlang.compile import compile_path
from constlang.runtime import preference_rows as PR
from constlang.runtime import preferences as pref
from constlang.runtime import reward as R
from constlang.runtime.preference_rows import PreferencesDir
from constlang.runtime.rundir import RunDir
from constlang.runtime.runner import run_plan
from constlang.runtime.stages.reward_model import RewardModelDir

from .helpers import complete_by_hand, finished_critique_revision


def pref_row(index: int, chosen: str, rejected: str, p_chosen: float,
             drop: str | None = None, stage: str = "feedback") -> dict:
    return PR.make_row(index=index, prompt_id=f"p{index}",
                       prompt=[{"role": "user", "content": f"Q{index}"}], chosen=chosen,
                       rejected=rejected, p_chosen=p_chosen, p_judge=p_chosen, source="feedback",
                       stage=stage, judge="m", judgements=[], finish={}, drop=drop,
                       plan_hash="sha256:x")


ROWS = [pref_row(0, "kind", "rude", 0.8), pref_row(1, "kind", "rude", 0.7),
        pref_row(2, "same", "same", 0.5), pref_row(3, "x", "y", 0.6, drop="truncated"),
        pref_row(4, "tie-a", "tie-b", 0.5)]


def test_pairs_carry_the_probability_that_chosen_is_better() -> None:
    pairs, left_out = PR.training_pairs(ROWS, soft=True)
    assert [(p["chosen"][0]["content"], p["rejected"][0]["content"], p["p_chosen"])
            for p in pairs] == [("kind", "rude", 0.8), ("kind", "rude", 0.7),
                                ("tie-a", "tie-b", 0.5)]
    assert pairs[0]["prompt"] == [{"role": "user", "content": "Q0"}]
    assert pairs[0]["stage"] == "feedback"
    assert left_out == {"truncated": 1, "identical": 1}
    hard, left_out = PR.training_pairs(ROWS, soft=False)
    assert [p["p_chosen"] for p in hard] == [1.0, 1.0]
    assert left_out == {"truncated": 1, "identical": 1, "tie": 1}


def test_the_feedback_filters_drop_ties_inconsistent_and_unsure_pairs() -> None:
    from types import SimpleNamespace

    def why(p: float, consistent: bool | None = True, finish: tuple[str, str] = ("eos", "eos"),
            identical: bool = False, **settings: object) -> str | None:
        s = SimpleNamespace(**{"keep_truncated": False, "drop_ties": True,
                               "drop_inconsistent": False, "min_confidence": 0.0, **settings})
        return PR.drop_reason(finish=finish, identical=identical, p_judge=p,
                              consistent=consistent, settings=s)

    assert why(0.7) is None and why(0.5) == "tie" and why(0.5, drop_ties=False) is None
    assert why(0.9, identical=True) == "identical"
    assert why(0.9, finish=("eos", "length")) == "truncated"
    assert why(0.9, finish=("eos", "length"), keep_truncated=True) is None
    assert why(0.9, finish=("skipped", "eos"), keep_truncated=True) == "too_long"
    assert why(0.9, consistent=False) is None
    assert why(0.9, consistent=False, drop_inconsistent=True) == "inconsistent"
    assert why(0.55, min_confidence=0.1) == "low_confidence" and why(0.6, min_confidence=0.1) \
        is None


def test_the_split_is_seeded_and_keeps_a_pair_to_train_on() -> None:
    pairs = [{"index": i} for i in range(20)]
    train, held = R.split(pairs, 0.25, seed=3)
    assert len(held) == 5 and len(train) == 15
    assert R.split(pairs, 0.25, seed=3) == (train, held)
    assert R.split(pairs, 0.25, seed=4)[1] != held
    assert R.split(pairs[:1], 0.5, seed=0) == (pairs[:1], [])


def test_soft_loss_is_trls_loss_at_hard_labels_and_differs_between() -> None:
    delta = torch.tensor([1.5, -0.5, 0.2])
    trl = -torch.nn.functional.logsigmoid(delta).mean()  # RewardTrainer's loss, no margin
    assert torch.allclose(R.soft_loss(delta, torch.ones(3)), trl)
    swapped = -torch.nn.functional.logsigmoid(-delta).mean()  # the same pairs, sides swapped
    assert torch.allclose(R.soft_loss(delta, torch.zeros(3)), swapped)
    half = R.soft_loss(delta, torch.full((3,), 0.5))
    assert not torch.allclose(half, trl) and not torch.allclose(half, swapped)
    # at p = 0.5 the loss is smallest at Δ = 0: a tie teaches "no preference"
    assert R.soft_loss(torch.zeros(1), torch.full((1,), 0.5)) < R.soft_loss(
        torch.ones(1), torch.full((1,), 0.5))


def test_calibration_error_and_held_out_metrics_by_hand() -> None:
    # bins: 0.15 and 0.25 alone in theirs, 0.95 and 1.0 together in the last
    probs, targets = [0.15, 0.25, 0.95, 1.0], [0.0, 1.0, 1.0, 0.5]
    expected = (abs(0.15 - 0) + abs(0.25 - 1) + abs(0.95 + 1.0 - 1.0 - 0.5)) / 4
    assert pref.calibration_error(probs, targets) == pytest.approx(expected)
    deltas = [2.0, -1.0, 0.5, 0.0]
    m = R.heldout_metrics(deltas, [0.9, 0.8, 0.5, 0.3])
    assert m["pairs"] == 4 and m["accuracy"] == round(1 / 3, 4)  # the p = 0.5 pair left out
    assert m["mean_margin"] == 0.375
    sig = [1 / (1 + math.exp(-d)) for d in deltas]
    assert m["calibration_error"] == round(pref.calibration_error(sig, [0.9, 0.8, 0.5, 0.3]), 4)


def test_no_held_out_pairs_say_why_instead_of_none() -> None:
    from constlang.runtime.stages.reward_model import RewardModelRunner

    none = R.heldout_metrics([], [])
    assert R.heldout_text(none, 5, 0.1) == ("no held-out pairs: 5 pairs, all used for training "
                                            "(eval_fraction = 0.1 of them rounds to none)")
    assert R.heldout_text(none, 5, 0.0).endswith("(eval_fraction = 0)")
    ties = R.heldout_metrics([1.0], [0.5])
    assert "accuracy n/a (every held-out label is a tie)" in R.heldout_text(ties, 5, 0.2)
    headline = RewardModelRunner.headline({"train_pairs": 5, "heldout": none, "warnings": ["w"]})
    assert headline == "5 pairs, none held out (few pairs: see warnings)"
    assert "None" not in headline + R.heldout_text(none, 5, 0.1)


def test_a_reward_model_on_few_pairs_is_warned_about() -> None:
    assert R.few_pairs_warning(R.MIN_PAIRS, "rm") is None
    assert R.few_pairs_warning(1, "rm", "c.const:3") == (
        "c.const:3: warning: stage `rm` trains a reward model on 1 preference pair, fewer than "
        "64: its scores will mostly be noise; give the stages it learns from more prompts or "
        "samples before PPO or evaluation relies on it")


CONSTITUTION = """constlang 1
constitution "rm-test" {{ version = "0.1.0" }}
principle p {{ critique = "c"  revision = "r" }}
question q {{ text = "Which reply is kinder?" }}
model tiny {{ source = "{model}" }}
dataset d {{ path = "prompts.jsonl" }}
stage critique_revision {{ model = tiny  prompts = d }}
stage sft {{ from = critique_revision }}
stage feedback {{ policy = sft  judge = tiny  prompts = d }}
stage reward_model {{ from = feedback  batch_size = 4  max_length = 64  eval_fraction = 0.25 }}
"""


def test_a_reward_model_trains_on_soft_labels_and_scores_replies(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    from constlang.runtime.models import load_model
    from constlang.runtime.stages.reward_model import soft_reward_trainer

    (tmp_path / "c.const").write_text(CONSTITUTION.format(model=tiny_model_dir), "utf-8")
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "hi"}\n', "utf-8")
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    run = RunDir(tmp_path / "runs")
    feedback = PreferencesDir.of(run.stage("feedback"))
    rows = [pref_row(i, f"A kind and careful reply number {i}.", f"Go away {i}!", 0.9 - i / 40)
            for i in range(12)]
    feedback.path.mkdir(parents=True)
    feedback.preferences.write_text("".join(json.dumps(r) + "\n" for r in rows))
    complete_by_hand(run, "feedback", "feedback", result.plan.hash)
    out = io.StringIO()
    done = run_plan(result.plan, base_dir=result.base_dir, run_dir=run.path,
                    stages=["reward_model"], device="cpu", console=Console(file=out, width=200))
    assert [(s.name, s.status) for s in done.stages] == [("reward_model", "completed")]
    stage = RewardModelDir.of(run.stage("reward_model"))
    manifest = stage.read_manifest()
    assert manifest is not None and manifest.status == "completed"
    m = manifest.metrics
    assert (m["train_pairs"], m["heldout"]["pairs"]) == (9, 3)
    assert m["steps"] == 3  # ceil(9 / 4)
    assert m["left_out"] == {} and m["sources"] == {"feedback": 12}
    held = [json.loads(line) for line in stage.heldout.read_text().splitlines()]
    assert len(held) == 3
    assert stage.reliability.read_bytes().startswith(b"\x89PNG")
    assert "held out: 3 pairs" in out.getvalue()
    # 9 training pairs: a one-line warning located at the stage, in the output and the manifest
    warning = ("c.const:10: warning: stage `reward_model` trains a reward model on 9 preference "
               "pairs, fewer than 64")
    assert m["warnings"] and m["warnings"][0].startswith(warning)
    assert warning in " ".join(out.getvalue().split())
    assert m["warnings"][0] in (stage.model / "README.md").read_text("utf-8")

    from constlang.plan import Model

    loaded = load_model(Model(id="rm", source=str(stage.model)), device="cpu", head="reward")
    scorer = R.RewardScorer(loaded, batch_size=2)
    by_row = {r["index"]: r for r in rows}
    scores = scorer.score([by_row[h["index"]]["prompt"] for h in held],
                          [PR.text(by_row[h["index"]]["chosen"]) for h in held])
    assert scores == pytest.approx([h["reward_chosen"] for h in held], abs=1e-4)

    # the trainer's loss with p_chosen = 1 is exactly TRL's own loss on the same batch
    from datasets import Dataset
    from trl import RewardConfig

    from constlang.runtime.stages.reward_model import collator

    tok = loaded.tokenizer
    batch_rows = [{"chosen_ids": tok("good")["input_ids"], "rejected_ids": tok("bad")["input_ids"],
                   "p_chosen": 1.0}]
    trainer = soft_reward_trainer()(
        model=loaded.model, args=RewardConfig(output_dir=str(tmp_path / "t"), use_cpu=True,
                                              report_to="none"),
        processing_class=tok, data_collator=collator(tok.pad_token_id),
        train_dataset=Dataset.from_list(batch_rows))
    with torch.no_grad():
        ours = trainer.compute_loss(loaded.model, collator(tok.pad_token_id)(batch_rows))
        plain = collator(tok.pad_token_id)(batch_rows)
        plain.pop("p_chosen")
        theirs = trainer.compute_loss(loaded.model, plain)
        assert torch.allclose(ours, theirs)
        half = collator(tok.pad_token_id)([{**batch_rows[0], "p_chosen": 0.5}])
        assert not torch.allclose(trainer.compute_loss(loaded.model, half), theirs)


PIPELINE = """constlang 1
constitution "pipeline" {{ version = "0.1.0" }}
principle p {{ critique = "Find harm."  revision = "Remove it." }}
question q {{ text = "Which reply is kinder?" }}
model tiny {{ source = "{model}"  max_new_tokens = 6 }}
dataset d {{ path = "prompts.jsonl" }}
stage critique_revision {{ model = tiny  prompts = d  revisions = 1  keep_truncated = true }}
stage sft {{ from = critique_revision  batch_size = 4  max_length = 96 }}
stage feedback {{ policy = sft  judge = tiny  prompts = d  keep_truncated = true }}
stage reward_model {{ from = feedback  batch_size = 2  max_length = 96  eval_fraction = 0.25 }}
"""


def test_the_pipeline_runs_from_revisions_to_a_reward_model(tmp_path: Path,
                                                           tiny_model_dir: Path) -> None:
    (tmp_path / "c.const").write_text(PIPELINE.format(model=tiny_model_dir), "utf-8")
    (tmp_path / "prompts.jsonl").write_text(
        "".join(json.dumps({"prompt": f"Question {i}?"}) + "\n" for i in range(4)), "utf-8")
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    run = RunDir(tmp_path / "runs")
    done = run_plan(result.plan, base_dir=result.base_dir, run_dir=run.path, device="cpu",
                    console=Console(file=io.StringIO()))
    assert [(s.name, s.status) for s in done.stages] == [
        ("critique_revision", "completed"), ("sft", "completed"), ("feedback", "completed"),
        ("reward_model", "completed")]
    rm = run.stage("reward_model").read_manifest()
    assert rm is not None
    pairs = [json.loads(line) for line in PreferencesDir.of(run.stage("feedback")).preferences
             .read_text().splitlines()]
    usable = [p for p in pairs if not p["drop"]]
    assert rm.metrics["train_pairs"] + rm.metrics["heldout"]["pairs"] == len(usable)
    assert sum(rm.metrics["left_out"].values()) == len(pairs) - len(usable)
    again = run_plan(result.plan, base_dir=result.base_dir, run_dir=run.path, device="cpu",
                     console=Console(file=io.StringIO()))
    assert [s.status for s in again.stages] == ["skipped"] * 4


def test_revision_pairs_prefer_the_final_revision_and_keep_the_drop_reasons() -> None:
    from constlang.runtime.stages.revision_pairs import revision_pairs

    rows = [{"index": i, "prompt_id": f"p{i}", "prompt": f"Q{i}", "initial": f"first {i}",
             "final": f"final {i}" if i != 2 else "first 2"} for i in range(4)]
    sft = [{"index": 0, "last": True, "drop": None, "source": "revision"},
           {"index": 1, "last": True, "drop": "truncated", "source": "revision"},
           {"index": 1, "last": True, "drop": None, "source": "helpful"},  # another dataset
           {"index": 2, "last": True, "drop": "skipped", "source": "revision"},
           {"index": 3, "last": False, "drop": "meta", "source": "revision"},
           {"index": 3, "last": True, "drop": None, "source": "revision"}]
    pairs = revision_pairs(rows, sft, use_dropped=False, weights="none", stage="rp",
                           plan_hash="sha256:x")
    assert [(PR.text(p["chosen"]), PR.text(p["rejected"]), p["p_chosen"], p["drop"])
            for p in pairs] == [
        ("final 0", "first 0", 1.0, None), ("final 1", "first 1", 1.0, "truncated"),
        ("first 2", "first 2", 1.0, "identical"), ("final 3", "first 3", 1.0, None)]
    assert all((p["source"], p["stage"], p["format"]) == ("revisions", "rp", 2) for p in pairs)
    loose = revision_pairs(rows, sft, use_dropped=True, weights="none", stage="rp",
                           plan_hash="sha256:x")
    assert [p["drop"] for p in loose] == [None, None, "identical", None]
    trained, left_out = PR.training_pairs(pairs, soft=True)
    assert [t["p_chosen"] for t in trained] == [1.0, 1.0]
    assert left_out == {"truncated": 1, "identical": 1}


def test_revision_pairs_weighted_by_the_judge_use_bradley_terry_on_its_scores() -> None:
    from constlang.runtime.stages.revision_pairs import revision_pairs

    rows = [{"index": 0, "prompt_id": "p0", "prompt": "Q", "initial": "a", "final": "b",
             "initial_score": 0.5, "rounds": [{"revision_score": 0.9}]},
            {"index": 1, "prompt_id": "p1", "prompt": "Q", "initial": "c", "final": "d",
             "initial_score": 0.8, "rounds": [{"revision_score": 0.5}]}]
    pairs = revision_pairs(rows, [], use_dropped=False, weights="judge", stage="rp",
                           plan_hash="sha256:x")
    # odds 9 against 1 → 0.9; odds 1 against 4 → 0.2, below one half: the revision is worse
    assert [p["p_chosen"] for p in pairs] == [pytest.approx(0.9), pytest.approx(0.2)]
    assert [p["drop"] for p in pairs] == [None, "worse"]


REVISION_PAIRS = """constlang 1
constitution "rp" {{ version = "0.1.0" }}
principle p {{ critique = "c"  revision = "r" }}
model tiny {{ source = "{model}" }}
dataset d {{ path = "prompts.jsonl" }}
stage critique_revision {{ model = tiny  prompts = d }}
stage revision_pairs {{ from = critique_revision }}
stage reward_model {{ from = revision_pairs  batch_size = 2  max_length = 64  eval_fraction = 0 }}
"""


def test_a_reward_model_trains_on_revision_pairs_from_the_reviser(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    (tmp_path / "c.const").write_text(REVISION_PAIRS.format(model=tiny_model_dir), "utf-8")
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "hi"}\n', "utf-8")
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    assert result.plan.base_model("reward_model").id == "tiny"  # the model that revised
    run = RunDir(tmp_path / "runs")
    finished_critique_revision(run, result.plan.hash, [
        (f"Question {i}?", f"No idea {i}.", f"Here is a careful answer {i}.") for i in range(4)])
    done = run_plan(result.plan, base_dir=result.base_dir, run_dir=run.path,
                    stages=["revision_pairs", "reward_model"], device="cpu",
                    console=Console(file=io.StringIO()))
    assert [(s.name, s.status) for s in done.stages] == [
        ("revision_pairs", "completed"), ("reward_model", "completed")]
    assert done.stages[0].metrics == {"pairs": 4, "kept_pairs": 4, "dropped": {},
                                      "mean_p_chosen": 1.0}
    assert (done.stages[1].metrics["train_pairs"], done.stages[1].metrics["steps"]) == (4, 2)


MERGED = """constlang 1
constitution "merged" {{ version = "0.1.0" }}
principle p {{ critique = "c"  revision = "r" }}
model tiny {{ source = "{model}" }}
dataset d {{ path = "prompts.jsonl" }}
stage critique_revision {{ model = tiny  prompts = d }}
stage strict {{ kind = revision_pairs  from = critique_revision }}
stage loose {{ kind = revision_pairs  from = critique_revision  use_dropped = true }}
stage reward_model {{ from = [strict, loose]  batch_size = 2  max_length = 64
                      eval_fraction = 0.25 }}
"""


def test_a_reward_model_merges_the_pairs_of_several_stages(tmp_path: Path,
                                                           tiny_model_dir: Path) -> None:
    (tmp_path / "c.const").write_text(MERGED.format(model=tiny_model_dir), "utf-8")
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "hi"}\n', "utf-8")
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    run = RunDir(tmp_path / "runs")
    finished_critique_revision(run, result.plan.hash, [
        (f"Question {i}?", f"No {i}.", f"A careful answer {i}.") for i in range(4)],
        drops={3: "meta"})
    done = run_plan(result.plan, base_dir=result.base_dir, run_dir=run.path,
                    stages=["strict", "loose", "reward_model"], device="cpu",
                    console=Console(file=io.StringIO()))
    assert [s.status for s in done.stages] == ["completed"] * 3
    m = done.stages[2].metrics
    # strict keeps 3 of its 4 pairs (one revision was meta), loose all 4: 7 pairs, 2 held out
    assert m["sources"] == {"strict": 4, "loose": 4} and m["left_out"] == {"meta": 1}
    assert (m["train_pairs"], m["heldout"]["pairs"]) == (5, 2)
    held = [json.loads(line) for line in RewardModelDir.of(run.stage("reward_model")).heldout
            .read_text().splitlines()]
    assert {h["stage"] for h in held} <= {"strict", "loose"}


@pytest.mark.parametrize(("line", "message"), [
    ('{"index": 0, "prompt": "Q"', "preferences.jsonl:2: malformed JSON"),
    ('{"index": 1, "prompt": "Q"}', "preferences.jsonl:2: not a format-2 preference row"),
    ("[1, 2]", "preferences.jsonl:2: expected a JSON object, got list"),
    (json.dumps({**pref_row(1, "a", "b", 0.5), "p_chosen": "high"}),
     "preferences.jsonl:2: `p_chosen` must be a number from 0 to 1"),
    (json.dumps({**pref_row(1, "a", "b", 0.5), "p_chosen": 1.5}),
     "preferences.jsonl:2: `p_chosen` must be a number from 0 to 1"),
    (json.dumps({**pref_row(1, "a", "b", 0.5), "chosen": "a"}),
     "preferences.jsonl:2: `chosen` must be a list of chat messages"),
])
def test_a_malformed_preference_row_is_a_data_error_naming_its_line(
        tmp_path: Path, line: str, message: str) -> None:
    from constlang.runtime.data import DataError

    path = tmp_path / "preferences.jsonl"
    path.write_text(json.dumps(pref_row(0, "a", "b", 0.7)) + "\n" + line + "\n\n", "utf-8")
    with pytest.raises(DataError, match=message):
        PR.read_preferences(path)
    path.write_text(json.dumps(pref_row(0, "a", "b", 0.7)) + "\n\n", "utf-8")
    assert PR.read_preferences(path) == [pref_row(0, "a", "b", 0.7)]


def test_the_scorer_tokenizes_a_pair_exactly_as_trls_reward_trainer(tiny_model) -> None:  # type: ignore[no-untyped-def]
    from trl.trainer.reward_trainer import _tokenize

    tok = tiny_model.tokenizer
    prompt = [{"role": "user", "content": "How do I pick a lock?"}]
    reply = "I can't help with that, but a locksmith can."
    theirs = _tokenize(tok, prompt + [{"role": "assistant", "content": reply}])["input_ids"]
    assert R.conversation_ids(tok, prompt, reply) == list(theirs)
    assert R.conversation_ids(tok, "How do I pick a lock?", reply) == list(theirs)
    pair = {"prompt": prompt, "chosen": [{"role": "assistant", "content": reply}],
            "rejected": [{"role": "assistant", "content": "Sure: " + "pin " * 50}]}
    assert R.fits(tok, pair, len(theirs) + 60) and not R.fits(tok, pair, len(theirs) + 5)


def test_the_scorer_keeps_the_last_max_length_tokens_of_a_long_conversation(
        tiny_model_dir: Path) -> None:
    from constlang.plan import Model
    from constlang.runtime.models import load_model

    loaded = load_model(Model(id="rm", source=str(tiny_model_dir)), device="cpu", head="reward")
    long_prompt = "tell me " * 40
    full = R.conversation_ids(loaded.tokenizer, long_prompt, "No.")
    short = R.conversation_ids(loaded.tokenizer, "hi", "No.")
    limit = len(short) + 2  # the template's system prompt is part of every conversation
    assert len(full) > limit
    scorer = R.RewardScorer(loaded, batch_size=2, max_length=limit)
    cut = scorer.encode([long_prompt, "hi"], ["No.", "No."])
    assert cut == [full[-limit:], short] and scorer.truncated == 1
    # padding in a batch changes nothing: each score equals the conversation scored alone
    both = scorer.score([long_prompt, "hi"], ["No.", "No."])
    alone = [scorer.score([p], ["No."])[0] for p in (long_prompt, "hi")]
    assert both == pytest.approx(alone, abs=1e-5)
