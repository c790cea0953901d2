"""The best_of_n stage: choosing and pairing replies by their check verdicts, a tiny model's
samples checked into SFT rows and preference pairs, resuming, and the stages that read them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from constlang.checks.apply import CheckSet
from constlang.cli.train import train
from constlang.compile import compile_path
from constlang.errors import StageError
from constlang.preview import stage_costs
from constlang.runtime import best_of_n_rows as R
from constlang.runtime.generate import GenerationEngine
from constlang.runtime.models import LoadedModel
from constlang.runtime.preference_rows import read_preferences, training_pairs
from constlang.runtime.stages.best_of_n import (
    BestOfN,
    BestOfNDir,
    BestOfNRunner,
    read_all_prompts,
)
from constlang.runtime.stages.sft import training_rows

SPLIT = 35  # characters: with seed 3, the tiny model's 6-token replies fall on either side

CONSTITUTION = """constlang 1
constitution "bon-test" {{ version = "0.1.0" }}
check fits {{ checker = length  max = 10000  unit = characters }}
check never {{
  checker = regex  pattern = "NEVER-MATCHES-THIS"  expect = match  applies_to = ["b"]
}}
check brief {{ checker = length  max = {split}  unit = characters }}
example hint {{ prompt = "Say hi."  response = "Hi there!" }}
model tiny {{ source = "{model}"  max_new_tokens = 6  temperature = 0.9 }}
dataset good {{ path = "good.jsonl"  tags = ["a"] }}
dataset bad {{ path = "bad.jsonl"  tags = ["b"] }}
stage best_of_n {{
  policy = tiny  prompts = [good, bad]  samples = 4  keep = 2  checks = [fits, never]
  keep_truncated = true  batch_size = 2
}}
stage split {{
  kind = best_of_n  policy = tiny  prompts = good  samples = 4  checks = [brief]
  keep_truncated = true  pairs_per_prompt = 2  examples = [hint]  seed = 3
}}
"""


def project(tmp_path: Path, model: Path | str = "unused", extra: str = "") -> Any:
    """The constitution (two good prompts tagged a, one bad tagged b), compiled."""
    (tmp_path / "c.const").write_text(
        CONSTITUTION.format(model=model, split=SPLIT) + extra, "utf-8")
    for name, n in (("good", 2), ("bad", 1)):
        (tmp_path / f"{name}.jsonl").write_text("".join(
            json.dumps({"id": f"{name}{i}", "prompt": f"{name} question {i}?"}) + "\n"
            for i in range(n)), "utf-8")
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    return result


def sample(text: str, passed: bool, *, finish: str = "eos", drop: str | None = None,
           score: float | None = None) -> dict[str, Any]:
    return {"text": text, "finish": finish, "tokens": 3, "checks": {"c": passed},
            "passed": passed, "drop": drop, "score": score}


# ---------------------------------------------------------------- choosing and pairing

def test_a_reply_is_not_keepable_when_too_long_truncated_empty_or_meta() -> None:
    def why(text: str, finish: str = "eos", **kw: bool) -> str | None:
        return R.sample_drop(text, finish, **{"keep_truncated": False, "drop_meta": True, **kw})

    assert why("fine", "skipped") == "too_long"
    assert why("fine", "length") == "truncated"
    assert why("fine", "length", keep_truncated=True) is None
    assert why("  ") == "empty"
    assert why("The response is rude.") == "meta"
    assert why("The response is rude.", drop_meta=False) is None
    never_written = R.judged_sample("", "skipped", 0, {"c": None}, "too_long")
    assert not never_written["passed"] and R.judged_sample("x", "eos", 1, {"c": None}, None)[
        "passed"]


def test_kept_replies_are_the_first_distinct_passing_ones_or_the_best_scored() -> None:
    xs = [sample("no", False), sample("a reply", True), sample("a reply ", True),
          sample("cut", True, drop="truncated"), sample("another one", True)]
    order = R.ranked(xs, by_score=False)
    assert order == [1, 2, 4]
    assert R.choose_kept(xs, order, 2, by_score=False) == [1, 4]  # 2 repeats 1
    scored = [sample("x", True, score=0.1), sample("y", True, score=0.9),
              sample("z", True, score=0.5), sample("w", False, score=None)]
    best = R.ranked(scored, by_score=True)
    assert best == [1, 2, 0] and R.choose_kept(scored, best, 2, by_score=True) == [1, 2]


def test_pairs_put_a_passing_reply_over_a_failing_one_spread_and_bounded() -> None:
    xs = [sample("good", True), sample("bad one", False), sample("bad two", False),
          sample("bad cut", False, finish="length"), sample("good", False)]
    pairs = R.choose_pairs(xs, R.ranked(xs, False), 2, keep_truncated=False)
    assert pairs == [(0, 1), (0, 2)]  # two different failing replies, never the equal text
    assert R.choose_pairs(xs, [0], 9, keep_truncated=True) == [(0, 1), (0, 2), (0, 3)]
    assert R.choose_pairs(xs, [0], 0, keep_truncated=True) == []
    two = [sample("g1", True), sample("g2", True), sample("b1", False), sample("b2", False)]
    assert R.choose_pairs(two, [0, 1], 2, keep_truncated=False) == [(0, 2), (1, 3)]


# ---------------------------------------------------------------- a tiny model's samples

def run_stage(tmp_path: Path, engine: Any, stage: str = "best_of_n",
              folder: str = "out") -> tuple[dict[str, Any], BestOfNDir, BestOfN]:
    result = project(tmp_path)
    job = BestOfN.from_plan(result.plan, stage)
    prompts = read_all_prompts(result.plan, job.settings.prompts, result.base_dir)
    out = BestOfNDir(tmp_path, folder)
    return job.run(engine, prompts, out), out, job


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_checks_decide_which_replies_become_rows(tmp_path: Path, tiny_model: LoadedModel) -> None:
    metrics, out, _ = run_stage(tmp_path, GenerationEngine(tiny_model, batch_size=4))
    rows = lines(out.samples)
    assert [(r["index"], r["prompt_id"], r["tags"]) for r in rows] == [
        (0, "good0", ["a"]), (1, "good1", ["a"]), (2, "bad0", ["b"])]
    for r in rows[:2]:  # `never` applies to tag b only: every reply to an a-prompt passes
        assert all(x["checks"] == {"fits": True, "never": None} and x["passed"]
                   for x in r["samples"])
        assert len(r["samples"]) == 4 and len(r["kept"]) == 2 and r["pairs"] == []
    assert all(x["checks"] == {"fits": True, "never": False} and not x["passed"]
               for x in rows[2]["samples"])
    assert rows[2]["kept"] == [] and rows[2]["pairs"] == []
    sft = lines(out.sft_data)
    assert [(s["index"], s["sample"]) for s in sft] == [
        (r["index"], i) for r in rows for i in r["kept"]]
    assert sft[0]["messages"] == [
        {"role": "user", "content": "good question 0?"},
        {"role": "assistant", "content": rows[0]["samples"][rows[0]["kept"][0]]["text"]}]
    assert out.preferences.read_text() == "" and not out.partial.exists()
    assert {k: metrics[k] for k in ("prompts", "samples", "passing_samples", "pass_rate",
                                    "prompts_with_pass", "prompts_kept", "sft_rows", "pairs")} == {
        "prompts": 3, "samples": 12, "passing_samples": 8, "pass_rate": round(8 / 12, 4),
        "prompts_with_pass": 2, "prompts_kept": 2, "sft_rows": 4, "pairs": 0}
    checks = metrics["checks"]
    assert (checks["fits"]["applied"], checks["fits"]["pass_rate"]) == (12, 1.0)
    assert {k: checks["never"][k] for k in ("applied", "passed", "skipped", "pass_rate")} == {
        "applied": 4, "passed": 0, "skipped": 8, "pass_rate": 0.0}
    assert checks["never"]["failed_prompts"] == ["bad0"] * 4
    assert metrics["distinct_kept"] == len({" ".join(s["messages"][1]["content"].split())
                                            for s in sft})
    assert len(training_rows(out.sft_data, "last")) == metrics["distinct_kept"]
    line = R.summary_line("best_of_n", metrics)
    assert line.startswith("best_of_n: 3 prompts × 4 samples, 67 % passed (fits 100 %, never 0 %)"
                           "; 2 prompts with a passing reply, 4 SFT rows kept")


def test_pairs_follow_the_verdicts_and_read_as_training_pairs(
        tmp_path: Path, tiny_model: LoadedModel) -> None:
    engine = GenerationEngine(tiny_model, batch_size=4)
    metrics, out, job = run_stage(tmp_path, engine, stage="split")
    rows = lines(out.samples)
    for r in rows:
        for x in r["samples"]:  # the verdict is the length, computed here independently
            assert x["checks"] == {"brief": len(x["text"]) <= SPLIT}
        passing = sum(x["passed"] for x in r["samples"])
        assert len(r["pairs"]) == min(2, passing * (4 - passing))
        assert all(r["samples"][a]["passed"] and not r["samples"][b]["passed"]
                   for a, b in r["pairs"])
    prefs = read_preferences(out.preferences)
    assert len(prefs) == metrics["pairs"] >= 1, "the seed gives no prompt both kinds of reply"
    first = prefs[0]
    assert first["prompt"] == [{"role": "user", "content": rows[first["index"]]["prompt"]}]
    assert (first["p_chosen"], first["source"], first["stage"], first["judge"]) == (
        1.0, "best_of_n", "split", None)
    assert first["failed_checks"] == ["brief"] and first["checks"]["chosen"] == {"brief": True}
    pairs, left_out = training_pairs(prefs, soft=True)
    assert len(pairs) == len(prefs) and left_out == {}
    # the examples are earlier turns of the sampling chat only: the rows hold the bare prompt
    chat = job.respond_prompt(read_all_prompts(project(tmp_path).plan, "good", tmp_path)[0])
    assert chat == [{"role": "user", "content": "Say hi."},
                    {"role": "assistant", "content": "Hi there!"},
                    {"role": "user", "content": "good question 0?"}]


class Interrupted(GenerationEngine):
    """The tiny model's engine, interrupted (Ctrl-C) at its n-th generation call."""

    def __init__(self, loaded: LoadedModel, at_call: int) -> None:
        super().__init__(loaded, batch_size=4)
        self.at_call, self.made = at_call, 0

    def generate_full(self, prompts: Any, settings: Any, progress: Any = None) -> Any:
        self.made += 1
        if self.made == self.at_call:
            raise KeyboardInterrupt
        return super().generate_full(prompts, settings, progress)


def test_an_interrupted_stage_resumes_and_writes_what_a_whole_run_writes(
        tmp_path: Path, tiny_model: LoadedModel) -> None:
    reference, whole, _ = run_stage(tmp_path, GenerationEngine(tiny_model, batch_size=4),
                                    folder="whole")
    # chunk 1 (2 prompts) takes calls 1-4; call 6 is chunk 2's second sample round
    with pytest.raises(KeyboardInterrupt):
        run_stage(tmp_path, Interrupted(tiny_model, at_call=6))
    out = BestOfNDir(tmp_path, "out")
    assert [r["index"] for r in lines(out.samples)] == [0, 1]
    saved = json.loads(out.partial.read_text())
    assert (saved["indices"], saved["round"]) == ([2], 1)
    engine = Interrupted(tiny_model, at_call=0)
    metrics, out, _ = run_stage(tmp_path, engine)
    assert engine.made == 3  # sample rounds 2-4 of the last prompt only
    assert metrics["resumed_rows"] == 2 and not out.partial.exists()
    for name in ("samples", "sft_data", "preferences"):
        assert getattr(out, name).read_text() == getattr(whole, name).read_text()
    assert {k: v for k, v in metrics.items() if k not in ("resumed_rows", "seconds")} == {
        k: v for k, v in reference.items() if k not in ("resumed_rows", "seconds")}


def test_greedy_sampling_of_several_replies_is_refused(tmp_path: Path) -> None:
    result = project(tmp_path, extra="stage greedy { kind = best_of_n  policy = tiny  "
                                     "prompts = good  temperature = 0  top_p = 0.5  "
                                     "max_new_tokens = 3 }\n")
    job = BestOfN.from_plan(result.plan, "greedy")
    assert (job.model.temperature, job.model.top_p, job.model.max_new_tokens) == (0, 0.5, 3)
    with pytest.raises(StageError, match="at temperature 0, so every sample would be the same"):
        job.check_sampling()
    BestOfN.from_plan(result.plan, "best_of_n").check_sampling()  # the model's 0.9
    CheckSet.of(result.plan, [])  # no checks is allowed: every reply passes


def test_cost_counts_samples_of_every_dataset(tmp_path: Path) -> None:
    result = project(tmp_path, extra="stage ranked { kind = best_of_n  policy = tiny  "
                                     "prompts = good  samples = 5  max_new_tokens = 9  "
                                     "rank_by = rm }\nstage rm { kind = reward_model  "
                                     "from = best_of_n }\n")
    costs = {c.stage: c for c in stage_costs(result.plan, result.base_dir)}
    bon = costs["best_of_n"]
    assert (bon.prompts, bon.calls, bon.tokens, bon.note) == (3, 12, 72, "4 samples per prompt")
    ranked = costs["ranked"]
    assert (ranked.prompts, ranked.calls, ranked.tokens) == (2, 20, 90)
    assert ranked.note == "5 samples per prompt, each scored by the reward model"


# ---------------------------------------------------------------- the stages that read it

PIPELINE = """
stage sft {{ from = best_of_n  batch_size = 2 }}
stage both {{ kind = sft  from = [best_of_n, split]  batch_size = 2 }}
stage reward_model {{ from = split  batch_size = 2  eval_fraction = 0 }}
stage dpo {{ from = split  policy = sft  batch_size = 2 }}
stage ranked {{
  kind = best_of_n  policy = sft  prompts = good  samples = 4  checks = [brief]  seed = 3
  keep_truncated = true  rank_by = reward_model  pairs_per_prompt = 0
}}
"""


def test_sft_reward_model_and_dpo_train_on_its_rows_and_pairs(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    project(tmp_path, tiny_model_dir, PIPELINE.format())
    runs = tmp_path / "runs"
    args = [str(tmp_path / "c.const"), "--run-dir", str(runs), "--device", "cpu"]
    dry = CliRunner().invoke(train, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "best_of_n · prompt good0 · respond (sampled 4×)" in dry.output
    assert "split · prompt good0 · respond (sampled 4×)" in dry.output and "Say hi." in dry.output
    result = CliRunner().invoke(train, args)
    assert result.exit_code == 0, result.output
    manifests = {s: json.loads((runs / s / "manifest.json").read_text())
                 for s in ("best_of_n", "split", "sft", "both", "reward_model", "dpo", "ranked")}
    assert all(m["status"] == "completed" for m in manifests.values())
    kept = manifests["best_of_n"]["metrics"]["distinct_kept"]
    assert manifests["sft"]["metrics"]["rows"] == kept
    assert manifests["both"]["metrics"]["rows"] == kept + manifests["split"]["metrics"][
        "distinct_kept"]
    assert (runs / "dpo" / "model").is_dir() and (runs / "reward_model" / "model").is_dir()
    assert "best_of_n: 3 prompts × 4 samples, 67 % passed" in result.output
    headline = BestOfNRunner.headline(manifests["best_of_n"]["metrics"])
    assert headline == "12 samples, 67 % passed, 4 kept, 0 pairs"
    assert "12 samples, 67 %" in result.output  # the summary table (its cell wraps)
    # ranked by the reward model: every keepable reply is scored, the best one kept
    ranked = lines(runs / "ranked" / "samples.jsonl")
    firsts = [next((i for i, x in enumerate(r["samples"]) if x["passed"]), None) for r in ranked]
    assert [r["kept"][:1] for r in ranked] != [[i] if i is not None else [] for i in firsts]
    assert json.loads((runs / "ranked" / "manifest.json").read_text())["metrics"][
        "score_calls"] == 1
    for r in ranked:
        scores = [x["score"] for x in r["samples"]]
        assert [s is not None for s in scores] == [x["passed"] for x in r["samples"]]
        passing = [i for i, x in enumerate(scores) if x is not None]
        assert r["kept"] == ([max(passing, key=lambda i: scores[i])] if passing else [])
        assert r["pairs"] == []
    again = CliRunner().invoke(train, args)
    assert again.exit_code == 0, again.output
    assert again.output.count("completed earlier with the same inputs; skipped") == 7


def test_the_system_message_and_tagged_guidance_reach_only_the_sampling_prompt(
        tmp_path: Path) -> None:
    extra = '''
template guided(prompt, tags) """
{{ prompt }}{% if "b" in tags %} (Decline this one.){% endif %}"""
stage guided_bon {
  kind = best_of_n  policy = tiny  prompts = [good, bad]  samples = 1  temperature = 0
  checks = [fits]  system = "Follow the constitution."  respond_template = guided
}
'''
    result = project(tmp_path, extra=extra)
    assert result.plan is not None, [d.message for d in result.diagnostics]
    plan = result.plan
    bon = BestOfN.from_plan(plan, "guided_bon")
    rows = read_all_prompts(plan, bon.settings.prompts, tmp_path)
    good, bad = rows[0], rows[-1]
    assert bon.respond_prompt(good) == [
        {"role": "system", "content": "Follow the constitution."},
        {"role": "user", "content": "good question 0?"}]
    assert bon.respond_prompt(bad)[-1] == {"role": "user",
                                           "content": "bad question 0? (Decline this one.)"}
