"""PPO on tiny models: log-probabilities line up with a plain forward, LoRA's reference costs
no copy, a policy learns a known reward with its KL bounded, and the ppo stage runs on top of
critique_revision → sft → feedback → reward_model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from accelerate import Accelerator
from click.testing import CliRunner

from constlang.cli.train import train
from constlang.kinds.ppo import PPOSettings
from constlang.runtime.models import LoadedModel
from constlang.runtime.ppo.actors import Actors
from constlang.runtime.ppo.loop import PPOLoop
from constlang.runtime.ppo.rollout import Query, rollout_settings, sample, score_batch

from .tiny import build_tiny_model


class Generation:
    """The policy's overflow policy and context length (a model declaration's fields)."""

    overflow = "error"
    context_length = None


class LetterCount:
    """A known reward through the loop's scorer interface: how often `letter` is in the reply."""

    def __init__(self, letter: str) -> None:
        self.letter = letter

    def score(self, prompts: Sequence[str], replies: Sequence[str]) -> list[float]:
        return [float(r.count(self.letter)) for r in replies]


QUERIES = [Query([{"role": "user", "content": f"Tell me about topic {i}."}], f"topic {i}")
           for i in range(8)]


def settings(**changes: Any) -> PPOSettings:
    values: dict[str, Any] = dict(policy="p", reward="r", prompts="d", batch_size=8,
                                  mini_batch_size=4, ppo_epochs=2, max_new_tokens=6,
                                  temperature=1.0, value_model="policy_head",
                                  checkpoint_every=0)
    return PPOSettings(**{**values, **changes})


def make_loop(s: PPOSettings, **config: Any) -> tuple[PPOLoop, LoadedModel]:
    loaded = build_tiny_model("embedded", seed=0, **config)
    actors = Actors.build(loaded.model, s, LetterCount("e"), None)
    return PPOLoop(s, actors, loaded.tokenizer, QUERIES, Generation(),
                   Accelerator(cpu=True)), loaded


def test_rollout_log_probabilities_match_a_forward_of_each_row_alone(embedded_dir: Path) -> None:
    s = settings(temperature=0.7)
    loop, loaded = make_loop(s)
    generations = sample(loop.engine, QUERIES[:4], rollout_settings(s, Generation(), 0))
    exp = score_batch(loop.actors, loop.policy, loop.critic, generations, QUERIES[:4],
                      pad_id=loaded.tokenizer.pad_token_id, temperature=0.7, micro=3,
                      device="cpu")
    assert exp.mask.sum(1).tolist() == [len(g.ids) for g in generations]
    for row, g in enumerate(generations):
        ids = torch.tensor([list(g.prompt_ids) + list(g.ids)])
        with torch.no_grad():
            logits = loaded.model(input_ids=ids).logits[0, len(g.prompt_ids) - 1:-1] / 0.7
        want = torch.log_softmax(logits, -1).gather(-1, torch.tensor(g.ids)[:, None])[:, 0]
        got = exp.logprobs[row][exp.mask[row].bool()]
        assert torch.allclose(got, want, atol=1e-4)
        assert loaded.tokenizer.decode(list(g.ids), skip_special_tokens=True) == g.text
    # the reference starts as the policy: the KL of the first batch is zero
    assert torch.allclose(exp.ref_logprobs, exp.logprobs, atol=1e-5)
    assert exp.scores.tolist() == [float(g.text.count("e")) for g in generations]


def test_with_lora_the_reference_is_the_base_with_adapters_disabled(embedded_dir: Path) -> None:
    s = settings(lora=True, learning_rate=1e-2, steps=2)
    loop, _ = make_loop(s)
    assert loop.actors.reference is None  # no second copy of the weights
    trainable = {n for n, p in loop.policy.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or "value_head" in n for n in trainable)
    first = loop.run_step()
    second = loop.run_step()
    assert first["kl"] == pytest.approx(0.0, abs=1e-5)  # fresh adapters change nothing yet
    assert abs(second["kl"]) > 1e-4  # the trained adapters moved the policy off the base


def test_gradient_accumulation_gives_the_same_update_as_one_big_micro_batch(
        embedded_dir: Path) -> None:
    # every reply runs to max_new_tokens (a random tiny model never says EOS), so splitting a
    # mini-batch into micro-batches weights every token alike and the updates must agree
    updated, norms = [], []
    for accumulation in (1, 4):
        s = settings(gradient_accumulation_steps=accumulation, ppo_epochs=1, steps=1)
        loop, _ = make_loop(s)
        metrics = loop.run_step()
        assert metrics["eos_fraction"] == 0.0
        updated.append([p.detach().clone() for p in loop.actors.trainable()])
        norms.append(metrics["grad_norm"])  # before clipping: the scale of the summed gradient
    assert norms[0] == pytest.approx(norms[1], rel=1e-5)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*updated, strict=True))
    start = build_tiny_model("embedded", seed=0).model.state_dict()
    assert not torch.equal(start["model.norm.weight"], loop.actors.policy.lm.model.norm.weight)


class Zero:
    """No score at all: the KL penalty is the only reward."""

    def score(self, prompts: Sequence[str], replies: Sequence[str]) -> list[float]:
        return [0.0] * len(replies)


def test_the_kl_penalty_alone_pulls_a_moved_policy_back_to_the_reference(
        embedded_dir: Path) -> None:
    s = settings(batch_size=16, mini_batch_size=16, ppo_epochs=1, max_new_tokens=8, gamma=0.0,
                 kl_coef=1.0, vf_coef=0.0, learning_rate=1e-4)
    loaded = build_tiny_model("embedded", seed=0, initializer_range=0.6)
    actors = Actors.build(loaded.model, s, Zero(), None)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # move the policy away from its reference
        for name, p in actors.policy.lm.named_parameters():
            if "layers.1.mlp" in name:
                p.add_(torch.randn(p.shape, generator=generator) * 0.1)
    loop = PPOLoop(s, actors, loaded.tokenizer, QUERIES, Generation(), Accelerator(cpu=True))
    exp, _ = loop.rollout(0)

    def exact_kl() -> float:
        """KL(policy ‖ reference) summed over the vocabulary, per reply token of the batch."""
        assert actors.reference is not None
        with torch.no_grad():
            x, a = exp.input_ids, exp.attention_mask
            lp = torch.log_softmax(actors.policy.lm(input_ids=x, attention_mask=a).logits, -1)
            ref = torch.log_softmax(actors.reference(input_ids=x, attention_mask=a).logits, -1)
            per_token = (lp.exp() * (lp - ref)).sum(-1)[:, :-1]
        return float((per_token * exp.mask).sum() / exp.mask.sum())

    before = exact_kl()
    advantages, returns, stats = loop.advantages(exp)
    assert stats["kl"] > 0 and stats["score_mean"] == 0.0
    loop.update(exp, advantages, returns, step=0)
    assert exact_kl() < before - 1e-3


def test_a_tiny_policy_learns_a_known_reward_with_its_kl_bounded(embedded_dir: Path) -> None:
    # A tiny Llama at the default initializer_range (0.2) is near uniform over the 49k-token
    # vocabulary (entropy 9.5 nats), which no language model is; at 0.6 its entropy is about
    # 3 nats. The learning rate stays where one Adam step lowers the exact KL to the reference
    # (at 1e-3 a single step overshoots and the KL penalty cannot hold the policy).
    s = settings(steps=24, batch_size=16, mini_batch_size=4, max_new_tokens=8,
                 learning_rate=1e-4, kl_coef=0.05)
    loop, _ = make_loop(s, initializer_range=0.6)
    history = [loop.run_step() for _ in range(s.steps)]
    reward = [m["reward_mean"] for m in history]
    kl = [m["kl"] for m in history]
    before, after = sum(reward[:5]) / 5, sum(reward[-5:]) / 5
    print(f"reward {before:.2f} → {after:.2f}; KL per reply: max {max(kl):.2f} nats, last "
          f"{kl[-1]:.2f}; entropy {history[0]['entropy']:.2f} → {history[-1]['entropy']:.2f}")
    assert after > before + 1.2  # the letter count rises by a quarter or more
    assert max(kl) < 10.0  # < 1.25 nats a token: far from a collapsed policy
    assert history[-1]["entropy"] > 1.5
    assert all(0.0 <= m["clip_fraction"] <= 1.0 for m in history)


PIPELINE = """constlang 1

constitution "ppo-e2e" {{ version = "0.1.0" }}

principle harm {{ critique = "Find the harm."  revision = "Remove the harm." }}
question better {{ text = "Which reply is better?" }}
model tiny {{ source = "{model}"  max_new_tokens = 4 }}
dataset d {{ path = "p.jsonl" }}

stage critique_revision {{ model = tiny  prompts = d  revisions = 1  batch_size = 4
                          keep_truncated = true }}
stage sft {{ from = critique_revision  batch_size = 4  max_length = 128 }}
stage feedback {{ policy = sft  judge = tiny  prompts = d  keep_truncated = true }}
stage reward_model {{ from = feedback  batch_size = 4  max_length = 64  eval_fraction = 0.0 }}
stage ppo {{
  policy = sft  reward = reward_model  prompts = d
  steps = 3  batch_size = 4  mini_batch_size = 2  ppo_epochs = 2  max_new_tokens = 5
  checkpoint_every = 2  missing_eos_penalty = -1.0  kl_estimator = "k3"
}}
"""

PER_STEP = {"reward_mean", "reward_std", "kl", "kl_coef", "entropy", "clip_fraction",
            "value_loss", "policy_loss", "approx_kl", "explained_variance", "response_length",
            "eos_fraction", "grad_norm", "generate_s", "forward_s", "backward_s"}


def test_the_ppo_stage_runs_on_the_whole_pipeline(tmp_path: Path, tiny_model_dir: Path) -> None:
    from constlang.runtime.models import load_model
    from constlang.runtime.rundir import recover_jsonl

    path = tmp_path / "c.const"
    path.write_text(PIPELINE.format(model=tiny_model_dir), "utf-8")
    (tmp_path / "p.jsonl").write_text("".join(
        json.dumps({"prompt": f"Question number {i}?"}) + "\n" for i in range(4)))
    runs = tmp_path / "runs"
    dry = CliRunner().invoke(train, [str(path), "--run-dir", str(runs), "--dry-run"])
    assert dry.exit_code == 0 and "ppo · prompt d-0 · respond (first update)" in dry.output
    result = CliRunner().invoke(train, [str(path), "--run-dir", str(runs), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((runs / "ppo" / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    m = manifest["metrics"]
    assert m["steps"] == 3 and m["rollouts"] == 12 and m["resumed_from"] == 0
    assert m["eos_fraction_end"] == 0.0  # a random tiny model never ends a reply
    rows = [r for r in recover_jsonl(runs / "ppo" / "metrics.jsonl") if r["event"] == "ppo"]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(PER_STEP <= r.keys() for r in rows)
    # every reply ran out of tokens: the reward is the reward model's score minus the penalty
    assert all(r["score_mean"] == pytest.approx(r["reward_mean"] - 1.0) for r in rows)
    assert not (runs / "ppo" / "checkpoint").exists()
    card = (runs / "ppo" / "model" / "README.md").read_text()
    assert "RL policy (PPO)" in card and "against reward model `reward_model`" in card
    trained = load_model(compile_plan_model(path), device="cpu", base_dir=tmp_path)
    assert trained.model.config.vocab_size == len(trained.tokenizer)
    again = CliRunner().invoke(train, [str(path), "--run-dir", str(runs), "--device", "cpu"])
    assert again.exit_code == 0 and "ppo`: completed earlier with the same inputs; skipped" \
        in " ".join(again.output.split())


def compile_plan_model(path: Path) -> Any:
    """The tiny model's declaration pointed at the ppo stage's saved model."""
    from constlang.compile import compile_path

    plan = compile_path(path).plan
    assert plan is not None
    folder = path.parent / "runs" / "ppo" / "model"
    return plan.model("tiny").model_copy(update={"id": "rl", "source": str(folder)})


def test_a_short_run_summarises_its_first_and_last_halves(tmp_path: Path) -> None:
    from constlang.runtime.rundir import StageDir
    from constlang.runtime.stages.ppo import summary

    folder = StageDir(tmp_path, "ppo")
    folder.path.mkdir(parents=True)
    keys = ("kl", "kl_coef", "entropy", "response_length", "eos_fraction", "step_s", "rollouts")
    for step, reward in enumerate([0.1, 0.2, 0.5, 0.7], start=1):
        folder.metrics.log(event="ppo", step=step, reward_mean=reward, **dict.fromkeys(keys, 1))
    m = summary(folder)
    # four updates: the start is the mean of the first two, the end of the last two
    assert (m["reward_start"], m["reward_end"], m["steps"]) == (0.15, 0.6, 4)
