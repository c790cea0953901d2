"""GRPO and RLOO on tiny models: each stage runs end to end against a reward model or a judge,
the judge's reward is its probability of the good answer, a killed run resumes from its last
checkpoint, and a policy learns a known reward through the same trainer config."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from rich.console import Console

from constlang.compile import compile_path
from constlang.plan import Model
from constlang.runtime.generate import GenerationEngine
from constlang.runtime.models import load_model, save_model
from constlang.runtime.preferences import option_probability
from constlang.runtime.rundir import RunDir, StageDir, recover_jsonl
from constlang.runtime.runner import run_plan
from constlang.runtime.stages import _group as G

from .helpers import complete_by_hand
from .tiny import build_tiny_model

CONSTITUTION = """constlang 1
constitution "group-test" {{ version = "0.1.0" }}
principle p {{ critique = "c"  revision = "r" }}
question is_good {{ text = "Is the reply good?"  kind = pointwise  options = ["No", "Yes"]
                   good_answer = "Yes" }}
model tiny {{ source = "{model}" }}
dataset d {{ path = "prompts.jsonl" }}
stage critique_revision {{ model = tiny  prompts = d }}
stage revision_pairs {{ from = critique_revision }}
stage reward_model {{ from = revision_pairs  max_length = 64 }}
stage grpo {{
  policy = tiny  reward = reward_model  prompts = d  steps = 4  batch_size = 4
  max_new_tokens = 5  learning_rate = 1e-4  checkpoint_every = 2  {grpo}
}}
stage rloo {{
  policy = tiny  prompts = d  reward_source = judge  judge = tiny  judge_question = is_good
  steps = 2  batch_size = 4  num_generations = 4  max_new_tokens = 5  learning_rate = 1e-2
  lora = true
}}
"""

LOGGED = {"reward", "reward_std", "kl", "entropy", "completions/mean_length", "loss"}


def prepare(tmp_path: Path, model: Path, grpo: str = "num_generations = 2"
            ) -> tuple[Any, RunDir]:
    """A project whose reward_model stage is done: a tiny classifier saved by hand."""
    (tmp_path / "c.const").write_text(CONSTITUTION.format(model=model, grpo=grpo), "utf-8")
    (tmp_path / "prompts.jsonl").write_text("".join(
        json.dumps({"prompt": f"Tell me about topic {i}."}) + "\n" for i in range(6)))
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    run = RunDir(tmp_path / "runs")
    reward = load_model(Model(id="rm", source=str(model)), device="cpu", head="reward", seed=3)
    folder = run.stage("reward_model")
    save_model(reward.model, reward.tokenizer, folder.model)
    complete_by_hand(run, "reward_model", "reward_model", result.plan.hash)
    return result, run


def run(result: Any, run_dir: RunDir, stage: str, out: io.StringIO | None = None) -> Any:
    return run_plan(result.plan, base_dir=result.base_dir, run_dir=run_dir.path,
                    stages=[stage], device="cpu",
                    console=Console(file=out or io.StringIO(), width=200)).stages[0]


def test_grpo_runs_against_the_reward_model_and_saves_the_policy(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    from constlang.cli.train import train

    result, runs = prepare(tmp_path, tiny_model_dir)
    dry = CliRunner().invoke(train, [str(tmp_path / "c.const"), "--run-dir", str(runs.path),
                                     "--stages", "grpo", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "grpo · prompt d-0 · respond" in dry.output and "grpo · prompt d-2" not in dry.output
    out = io.StringIO()
    done = run(result, runs, "grpo", out)
    assert done.status == "completed"
    m = done.metrics
    assert m["steps"] == 4 and m["reward_source"] == "reward_model" and m["resumed_from"] == 0
    assert m["completion_length_end"] == 5.0 and m["truncated_fraction_end"] == 1.0
    assert {"reward_start", "reward_end", "kl_end", "entropy_end", "seconds"} <= m.keys()
    logged = [r for r in recover_jsonl(runs.stage("grpo").metrics.path)
              if r["event"] == "train" and "reward" in r]
    assert [r["step"] for r in logged] == [1, 2, 3, 4]
    assert all(LOGGED <= r.keys() for r in logged)
    assert logged[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # the policy starts as its reference
    # the logged reward is the reward model's score of what was sampled: a classifier's
    # scores, not a constant
    assert all(r["reward_std"] > 0 for r in logged)
    folder = runs.stage("grpo").model
    card = (folder / "README.md").read_text()
    assert "RL policy (GRPO)" in card and "against reward model `reward_model`" in card
    trained = load_model(Model(id="t", source=str(folder)), device="cpu")
    assert trained.model.config.vocab_size == len(trained.tokenizer)
    assert not runs.stage("grpo").trainer.exists()
    assert "saved" in out.getvalue() and "reward" in out.getvalue()


def test_rloo_runs_with_the_judge_as_its_reward(tmp_path: Path, tiny_model_dir: Path) -> None:
    result, runs = prepare(tmp_path, tiny_model_dir)
    done = run(result, runs, "rloo")
    m = done.metrics
    assert m["steps"] == 2 and m["reward_source"] == "judge"
    logged = [r for r in recover_jsonl(runs.stage("rloo").metrics.path)
              if r["event"] == "train" and "reward" in r]
    assert all(0.0 < r["rewards/judge/mean"] < 1.0 for r in logged)  # probabilities
    folder = runs.stage("rloo").model
    assert "RL policy (RLOO)" in (folder / "README.md").read_text()
    assert "LoRA: yes, merged" in (folder / "README.md").read_text()
    # the adapters are merged into plain weights, which moved off the starting policy's
    trained = load_model(Model(id="t", source=str(folder)), device="cpu").model.state_dict()
    start = load_model(Model(id="s", source=str(tiny_model_dir)), device="cpu").model
    assert not any("lora_" in k for k in trained)
    assert any(not torch.equal(v, trained[k]) for k, v in start.state_dict().items())


def test_the_judge_reward_is_its_probability_of_the_good_answer(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    result, _ = prepare(tmp_path, tiny_model_dir)
    plan = result.plan
    stage = plan.stage("rloo")
    question = next(q for q in plan.questions if q.id == "is_good")
    step = G.find_step(plan.program("rloo"), "judge")
    engine = GenerationEngine(load_model(plan.model("tiny"), device="cpu",
                                         base_dir=result.base_dir), batch_size=2)
    reward = G.JudgeReward(engine, stage, step, question, plan.model("tiny"))
    prompts = ["Tell me about cats.", "How do I pick a lock?", "Say hi."]
    replies = ["Cats are small mammals.", "I won't help with that.", "Hi!"]
    got = reward(prompts=[[{"role": "user", "content": p}] for p in prompts],
                 completions=[[{"role": "assistant", "content": r}] for r in replies],
                 prompt_text=prompts)
    chats = [[{"role": "user", "content": f"User: {p}\nAssistant: {r}\n\nIs the reply good? "
                                          "Answer No or Yes.\nAnswer:"}]
             for p, r in zip(prompts, replies, strict=True)]
    assert reward.chats(prompts, replies) == chats  # the prelude's pointwise template
    direct = [option_probability(s, 1) for s in engine.score_options(chats, ["No", "Yes"])]
    assert got == pytest.approx(direct, abs=1e-6)
    assert len(set(got)) == 3 and all(0.0 < p < 1.0 for p in got)


def test_a_run_interrupted_after_a_checkpoint_continues_from_it(
        tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import trl

    result, runs = prepare(tmp_path, tiny_model_dir)
    save = trl.GRPOTrainer._save_checkpoint

    def save_then_stop(self: Any, *args: Any, **kwargs: Any) -> None:
        save(self, *args, **kwargs)
        raise KeyboardInterrupt  # as if killed right after the first checkpoint

    monkeypatch.setattr(trl.GRPOTrainer, "_save_checkpoint", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run(result, runs, "grpo")
    monkeypatch.undo()
    assert runs.stage("grpo").read_manifest().status == "interrupted"  # type: ignore[union-attr]
    out = io.StringIO()
    done = run(result, runs, "grpo", out)
    said = " ".join(out.getvalue().split())
    assert "the last run was interrupted; continuing from its last checkpoint (checkpoint-2)" \
        in said
    assert done.status == "completed" and done.metrics["resumed_from"] == 2
    assert done.metrics["steps"] == 4
    steps = [r["step"] for r in recover_jsonl(runs.stage("grpo").metrics.path)
             if r["event"] == "train" and "reward" in r]
    assert steps == [1, 2, 3, 4]  # each update logged once


def test_a_batch_that_splits_a_group_is_refused_before_loading(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    from constlang.runtime.runner import RunError

    result, runs = prepare(tmp_path, tiny_model_dir, grpo="num_generations = 3")
    with pytest.raises(RunError, match=r"\(4\) must be a multiple of num_generations \(3\)"):
        run(result, runs, "grpo")


def test_a_tiny_policy_learns_a_known_reward(tmp_path: Path, embedded_dir: Path) -> None:
    """The stage's config and reward plumbing, with a reward anyone can check: how often the
    letter `e` is in the completion."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from constlang.kinds.grpo import GRPOSettings
    from constlang.runtime import training as T

    def letter_e(prompts: Any, completions: Any, **columns: Any) -> list[float]:
        return [float(G.completion_text(c).count("e")) for c in completions]

    # two prompts of eight completions an update; at the default initializer_range a tiny
    # Llama is near uniform over 49k tokens (see test_ppo), at 0.6 it has ~3 nats of entropy
    s = GRPOSettings(policy="p", reward="r", prompts="d", steps=20, batch_size=16,
                     num_generations=8, max_new_tokens=6, learning_rate=1e-3, beta=0.04,
                     checkpoint_every=0)
    tiny = build_tiny_model("embedded", seed=0, initializer_range=0.6)
    source = save_model(tiny.model, tiny.tokenizer, tmp_path / "policy")  # the reference's
    loaded = load_model(Model(id="p", source=str(source)), device="cpu")
    folder = StageDir(tmp_path, "grpo")
    folder.path.mkdir(parents=True)
    config = G.trainer_config(GRPOConfig, s, folder, "cpu", loss_type=s.loss,
                              scale_rewards=s.scale_rewards)
    rows = [{"prompt": [{"role": "user", "content": f"Tell me about topic {i}."}],
             G.PROMPT_TEXT: f"topic {i}"} for i in range(8)]
    logs: dict[str, float] = {}
    with T.quiet_trainer():
        trainer = GRPOTrainer(model=loaded.model, reward_funcs=[letter_e], args=config,
                              train_dataset=Dataset.from_list(rows),
                              processing_class=loaded.tokenizer,
                              callbacks=[T.report_callback(folder.metrics, None, into=logs)])
    T.train(trainer)
    logged = [r for r in recover_jsonl(folder.metrics.path) if "reward" in r]
    rewards, kl = [r["reward"] for r in logged], [r["kl"] for r in logged]
    before, after = sum(rewards[:5]) / 5, sum(rewards[-5:]) / 5
    print(f"reward {before:.2f} → {after:.2f}; KL per token max {max(kl):.3f}; entropy "
          f"{logged[0]['entropy']:.2f} → {logged[-1]['entropy']:.2f}")
    assert len(logged) == s.steps
    assert after > before + 1.0  # one more `e` in six tokens
    assert max(kl) < 3.0 and logged[-1]["entropy"] > 1.5  # bounded, not collapsed
