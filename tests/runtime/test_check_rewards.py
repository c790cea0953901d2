"""Check rewards in the RL stages on tiny models: ppo, grpo and rloo run with checks and no
reward model, each reward component and each check's pass rate is logged per update and lands
in the manifest, and a tiny policy trained on a check reward alone learns to pass it."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from accelerate import Accelerator
from rich.console import Console

from constlang.checks.apply import CheckSet
from constlang.compile import compile_path
from constlang.runtime.check_rewards import CheckRewards, component_summary
from constlang.runtime.ppo.actors import Actors
from constlang.runtime.ppo.loop import PPOLoop
from constlang.runtime.ppo.rewards import RolloutRewards, score_rollouts
from constlang.runtime.ppo.rollout import Query
from constlang.runtime.rundir import RunDir, recover_jsonl
from constlang.runtime.runner import run_plan
from constlang.runtime.stages.base import reward_headline

from .test_ppo import QUERIES, Generation, settings
from .tiny import build_tiny_model

CONSTITUTION = """constlang 1
constitution "check-rewards" {{ version = "0.1.0" }}
check terse {{ checker = length  max = 3  unit = words  applies_to = ["chat"] }}
check no_digits {{ checker = regex  pattern = "[0-9]"  expect = no_match  weight = 0.5 }}
model tiny {{ source = "{model}" }}
dataset d {{ path = "prompts.jsonl"  tags = ["chat"] }}
stage ppo {{
  policy = tiny  prompts = d  checks = [terse, no_digits]  value_model = policy_head
  steps = 2  batch_size = 4  mini_batch_size = 2  ppo_epochs = 1  max_new_tokens = 4
  checkpoint_every = 0
}}
stage grpo {{
  policy = tiny  prompts = d  checks = [terse, no_digits]  steps = 2  batch_size = 4
  num_generations = 2  max_new_tokens = 4  checkpoint_every = 0
}}
stage rloo {{
  policy = tiny  prompts = d  checks = terse  steps = 2  batch_size = 4  num_generations = 2
  max_new_tokens = 4  checkpoint_every = 0
}}
principle p {{ critique = "c"  revision = "r" }}
stage critique_revision {{ model = tiny  prompts = d }}
stage revision_pairs {{ from = critique_revision }}
stage reward_model {{ from = revision_pairs  max_length = 64 }}
stage mixed {{
  kind = grpo  policy = tiny  prompts = d  reward = reward_model  reward_weight = 0
  checks = no_digits  steps = 2  batch_size = 4  num_generations = 2  max_new_tokens = 4
  checkpoint_every = 0
}}
"""


def project(tmp_path: Path, model: Path) -> tuple[Any, RunDir]:
    (tmp_path / "c.const").write_text(CONSTITUTION.format(model=model), "utf-8")
    # the last prompt is tagged `math` besides the dataset's `chat`
    (tmp_path / "prompts.jsonl").write_text("".join(
        json.dumps({"prompt": f"Tell me about topic {i}.", "tags": ["math"] if i == 3 else []})
        + "\n" for i in range(4)))
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    return result, RunDir(tmp_path / "runs")


def run(result: Any, runs: RunDir, stage: str) -> Any:
    return run_plan(result.plan, base_dir=result.base_dir, run_dir=runs.path, stages=[stage],
                    device="cpu", console=Console(file=io.StringIO(), width=200)).stages[0]


def check_set(**checks: dict[str, Any]) -> CheckSet:
    """Checks built from (id → checker and arguments), as a plan's would be."""
    plan = SimpleNamespace(checks=[SimpleNamespace(
        id=cid, checker=spec.pop("checker"), applies_to=spec.pop("applies_to", []),
        weight=spec.pop("weight", 1.0), args=spec) for cid, spec in checks.items()])
    return CheckSet.of(plan, list(checks))


class Constant:
    """A reward model that gives every reply the same score."""

    def __init__(self, value: float) -> None:
        self.value = value

    def score(self, prompts: Any, replies: Any) -> list[float]:
        return [self.value] * len(replies)


def test_a_reward_is_the_weighted_model_score_plus_the_check_rewards() -> None:
    checks = check_set(short={"checker": "length", "max": 2, "unit": "words", "weight": 2.0},
                       polite={"checker": "phrases", "phrases": ["please"], "expect": "any",
                               "applies_to": ["ask"]})
    rewards = RolloutRewards(Constant(0.5), CheckRewards(checks), weight=3.0)
    queries = [Query([], "p", ("ask",)), Query([], "p"), Query([], "p", ("ask",))]
    total, figures = score_rollouts(rewards, queries, ["please do", "a b c", "no way then"])
    # 3 × 0.5, then short (±2) and, for `ask` prompts only, polite (±1)
    assert total == [1.5 + 2 + 1, 1.5 - 2, 1.5 - 2 - 1]
    assert figures["reward/model"] == 0.5
    assert figures["reward/checks"] == pytest.approx((3 - 2 - 3) / 3)
    assert figures["checks/short/pass_rate"] == pytest.approx(1 / 3)
    assert figures["checks/polite/pass_rate"] == 0.5  # two replies in its scope
    # checks alone: no model figure; the tallies add up over batches
    alone = RolloutRewards(None, CheckRewards(checks))
    assert alone.rewards(["p"], ["x"], [()])[1].keys() == {"reward/checks",
                                                           "checks/short/pass_rate"}
    assert checks.tallies["short"].applied == 4
    with pytest.raises(ValueError):
        RolloutRewards(None, None)


def test_the_manifest_takes_each_component_and_pass_rate_at_the_start_and_the_end(
        tmp_path: Path) -> None:
    rows = [{"reward/model": m, "reward/checks": c, "checks/a/pass_rate": a}
            for m, c, a in [(1.0, -1.0, 0.0), (2.0, 0.0, 0.5), (3.0, 1.0, 1.0)]]
    del rows[0]["checks/a/pass_rate"]  # an update where `a` applied to no reply
    out = component_summary(tmp_path / "metrics.jsonl", rows[:2], rows[1:])
    assert out == {"model_reward_start": 1.5, "model_reward_end": 2.5,
                   "check_reward_start": -0.5, "check_reward_end": 0.5,
                   "check_pass_rate_start": {"a": 0.5}, "check_pass_rate_end": {"a": 0.75}}
    headline = reward_headline({"steps": 3, "reward_start": 0.0, "reward_end": 1.0, **out})
    assert headline.endswith("; checks passed: a 50% → 75%")


def logged_rows(runs: RunDir, stage: str, event: str) -> list[dict[str, Any]]:
    return [r for r in recover_jsonl(runs.stage(stage).metrics.path)
            if r.get("event") == event and ("reward" in r or "reward_mean" in r)]


def test_ppo_runs_on_checks_alone_and_logs_every_component(tmp_path: Path,
                                                          tiny_model_dir: Path) -> None:
    result, runs = project(tmp_path, tiny_model_dir)
    done = run(result, runs, "ppo")
    assert done.status == "completed", done
    rows = logged_rows(runs, "ppo", "ppo")
    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:
        assert "reward/model" not in r  # no reward model
        # `terse` applies to prompts tagged `chat` (the dataset's tag): its pass rate is logged
        # only because the tags reached the rewards
        assert {"reward/checks", "checks/terse/pass_rate", "checks/no_digits/pass_rate"} <= r.keys()
        assert r["reward_mean"] == pytest.approx(r["reward/checks"], abs=1e-5)
    m = done.metrics
    assert m["check_pass_rate_end"].keys() == {"terse", "no_digits"}
    assert "check_reward_end" in m and "model_reward_end" not in m
    assert "checks passed: terse" in reward_headline(m)
    card = (runs.stage("ppo").model / "README.md").read_text()
    assert "against checks `terse`, `no_digits`" in card


@pytest.mark.parametrize("stage", ["grpo", "rloo"])
def test_a_group_stage_runs_on_checks_alone_with_the_prompts_tags(
        tmp_path: Path, tiny_model_dir: Path, stage: str) -> None:
    result, runs = project(tmp_path, tiny_model_dir)
    done = run(result, runs, stage)
    assert done.status == "completed", done
    rows = logged_rows(runs, stage, "train")
    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:  # as for ppo: `terse` applies only through the tags column
        assert r["rewards/checks/mean"] == pytest.approx(r["reward"], abs=1e-5)
        assert r["reward/checks"] == pytest.approx(r["reward"], abs=1e-5)
        assert 0.0 <= r["checks/terse/pass_rate"] <= 1.0
    ids = {"grpo": {"terse", "no_digits"}, "rloo": {"terse"}}[stage]
    assert done.metrics["check_pass_rate_end"].keys() == ids


def test_reward_weight_scales_the_reward_models_part_of_a_group_reward(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    from constlang.plan import Model
    from constlang.runtime.models import load_model, save_model

    from .helpers import complete_by_hand

    result, runs = project(tmp_path, tiny_model_dir)
    reward = load_model(Model(id="rm", source=str(tiny_model_dir)), device="cpu",
                        head="reward", seed=3)
    save_model(reward.model, reward.tokenizer, runs.stage("reward_model").model)
    complete_by_hand(runs, "reward_model", "reward_model", result.plan.hash)
    done = run(result, runs, "mixed")
    assert done.status == "completed", done
    for r in logged_rows(runs, "mixed", "train"):
        assert r["reward/model"] != 0.0 and r["rewards/reward_model/mean"] == r["reward/model"]
        # reward_weight = 0: the reward is the check reward alone
        assert r["reward"] == pytest.approx(r["reward/checks"], abs=1e-5)
    m = done.metrics
    assert {"model_reward_end", "check_reward_end", "check_pass_rate_end"} <= m.keys()
    card = (runs.stage("mixed").model / "README.md").read_text()
    assert "reward model `reward_model` × 0 + checks `no_digits`" in card


def test_a_tiny_policy_trained_on_a_check_reward_alone_learns_to_pass_it(
        embedded_dir: Path) -> None:
    """The check: at most 22 characters in four tokens, which about a quarter of the random
    tiny model's replies pass at first; PPO on its reward alone (±1 a reply) makes the policy
    prefer short tokens: about three quarters pass after ten updates."""
    checks = check_set(short={"checker": "length", "max": 22, "unit": "characters"})
    s = settings(steps=15, batch_size=16, mini_batch_size=8, ppo_epochs=2, max_new_tokens=4,
                 learning_rate=3e-4, kl_coef=0.05, reward=None, checks=["short"])
    loaded = build_tiny_model("embedded", seed=0, initializer_range=0.6)
    actors = Actors.build(loaded.model, s, RolloutRewards(None, CheckRewards(checks)), None)
    loop = PPOLoop(s, actors, loaded.tokenizer, QUERIES, Generation(), Accelerator(cpu=True))
    rates = [loop.run_step()["checks/short/pass_rate"] for _ in range(s.steps)]
    before, after = sum(rates[:5]) / 5, sum(rates[-5:]) / 5
    print(f"pass rate {before:.2f} → {after:.2f}: {[round(r, 2) for r in rates]}")
    assert after > before + 0.3
