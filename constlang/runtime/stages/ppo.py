"""PPO stage: optimise the policy against a reward_model stage with constlang's own PPO."""

from __future__ import annotations

import json
import os
from contextlib import suppress
from pathlib import Path
from typing import Any

from constlang import plan as P
from constlang.errors import StageError
from constlang.files import remove_own
from constlang.prompts import Chat, find_step, render_step
from constlang.runtime import resources
from constlang.runtime import training as T
from constlang.runtime.check_rewards import component_summary
from constlang.runtime.data import read_prompts
from constlang.runtime.evaluation.plots import update_curves
from constlang.runtime.ppo import UPDATE_EVENT
from constlang.runtime.rundir import Artifact, StageDir, logged_number, recover_jsonl, sha256_tree
from constlang.runtime.stages.base import (
    Plot,
    StageRunner,
    policy_spec,
    reward_headline,
)

SUMMARY_WINDOW = 5  # steps averaged for the manifest's "start" and "end" figures


class PPODir(StageDir):
    """A ppo stage's folder: besides its model, what lets a killed run resume and be tracked."""

    checkpoint = Artifact("checkpoint", "The last resumable checkpoint (models, optimizer, RNG "
                          "and loop state).")
    tracking = Artifact("tracking", "What an experiment tracker (report_to) writes locally, "
                        "e.g. tensorboard files.")


class PPOError(StageError):
    """The stage cannot run as configured; the message says why."""


def queries(plan: P.Plan, stage: Any, base_dir: Any) -> list[Any]:
    """The rollout prompts: each dataset prompt in the `respond` step's template (the chat the
    policy answers), beside the plain prompt (what the reward model saw in training) and its
    tags (which checks apply)."""
    from constlang.runtime.ppo.rollout import Query

    step = find_step(plan.program(stage.name), "respond")
    rows = read_prompts(plan.dataset(stage.settings.prompts), base_dir)
    return [Query([{"role": "user", "content": render_step(
        stage.name, stage.kind, step, {"prompt": r.prompt, "examples": []})}], r.prompt,
        tuple(sorted(r.tags))) for r in rows]


def updates(folder: StageDir, *, cut: bool = True) -> list[dict[str, Any]]:
    """The rows of metrics.jsonl that the updates logged, in order (read only, without
    `cut`: the folder of a stage read by another)."""
    return [r for r in recover_jsonl(folder.metrics.path, cut=cut)
            if r.get("event") == UPDATE_EVENT]


def update_points(folder: StageDir) -> list[tuple[float, float, float]]:
    """(update, reward mean, KL) of every logged update, each value checked: a damaged log is
    one error naming it, before the evaluate stage loads any model."""
    path = folder.metrics.path
    return [(logged_number(path, r, "step", whole=True), logged_number(path, r, "reward_mean"),
             logged_number(path, r, "kl")) for r in updates(folder, cut=False)]


def curves(points: list[Any], png: Path, stage: str) -> bool:
    """The evaluate report's figure of a ppo stage: mean reward and KL per update."""
    return update_curves(points, png, f"stage `{stage}`: reward and KL per update")


def summary(folder: StageDir) -> dict[str, Any]:
    """The manifest's metrics: reward, KL and reply figures at the start and the end of
    training (means over a few updates), the reward's components and each check's pass rate,
    read back from metrics.jsonl."""
    path = folder.metrics.path
    rows = updates(folder)
    if not rows:
        return {"steps": 0}
    # a short run: its first and last halves, so the two figures never share an update
    window = min(SUMMARY_WINDOW, max(1, len(rows) // 2))
    first, last = rows[:window], rows[-window:]

    def number(row: dict[str, Any], key: str, whole: bool = False) -> float:
        return logged_number(path, row, key, whole=whole)

    def mean(part: list[dict[str, Any]], key: str) -> float:
        return round(sum(number(r, key) for r in part) / len(part), 4)

    return {"steps": number(rows[-1], "step", whole=True),
            "rollouts": sum(number(r, "rollouts", whole=True) for r in rows),
            "reward_start": mean(first, "reward_mean"), "reward_end": mean(last, "reward_mean"),
            "kl_end": mean(last, "kl"), "kl_coef_end": round(number(rows[-1], "kl_coef"), 6),
            "entropy_end": mean(last, "entropy"),
            "response_length_end": mean(last, "response_length"),
            "eos_fraction_end": mean(last, "eos_fraction"),
            "seconds": round(sum(number(r, "step_s") for r in rows), 3),
            **component_summary(path, first, last)}


def model_card(plan: P.Plan, stage: Any, base: P.Model, metrics: dict[str, Any]) -> str:
    """The README.md saved next to the trained policy."""
    c, s = plan.constitution, stage.settings
    settings = json.dumps(s.model_dump(mode="json", by_alias=True), indent=2)
    return (
        "---\nlibrary_name: transformers\ntags: [constlang, constitutional-ai, ppo, rlhf]\n"
        "---\n\n"
        f"# {c.name} {c.version}: RL policy (PPO)\n\n"
        f"Trained by constlang stage `{stage.name}`: policy `{s.policy}` optimised with PPO "
        f"against {reward_source(s)}, with a KL penalty to the starting policy "
        "(Constitutional AI, RL phase).\n\n"
        f"- Constitution: `{c.name}`, version `{c.version}`; plan hash "
        f"`{plan.hash or plan.compute_hash()}`\n"
        f"- Base model: `{base.id}` (`{base.source}`)\n"
        f"- Updates: {metrics.get('steps')} ({metrics.get('rollouts')} rollouts); reward "
        f"{metrics.get('reward_start')} → {metrics.get('reward_end')}, final KL "
        f"{metrics.get('kl_end')}\n"
        f"- LoRA: {'yes, merged into the weights' if s.lora else 'no, full fine-tune'}\n\n"
        f"{c.description.strip()}\n\n## Settings\n\n```json\n{settings}\n```\n"
    )


def reward_source(s: Any) -> str:
    """What rewards a rollout, in words: the reward model, the checks, or both."""
    parts = [f"reward model `{s.reward}`" + (f" × {s.reward_weight:g}"
                                             if s.reward_weight != 1 else "")] if s.reward else []
    if s.checks:
        parts.append("checks " + ", ".join(f"`{c}`" for c in s.checks))
    return " + ".join(parts)


def accelerator_for(settings: Any, folder: StageDir, device: str) -> Any:
    """The run's Accelerator: CPU or the process's GPU (under `accelerate launch`, each
    process's own), bf16/fp16 autocast on a GPU, and the report_to tracker."""
    from accelerate import Accelerator

    report = os.environ.get(T.REPORT_TO_ENV, "none") if settings.report_to == "env" \
        else settings.report_to
    on_gpu = device.startswith("cuda")
    precision = ("bf16" if T.bf16_supported() else "fp16") if on_gpu else "no"
    return Accelerator(cpu=not on_gpu, mixed_precision=precision,
                       log_with=None if report == "none" else report,
                       project_dir=str(PPODir.of(folder).tracking))


class PPORunner(StageRunner):
    """Runs a ppo stage (constlang.runtime.ppo): resumable from its last checkpoint."""

    kind = "ppo"
    resumes = True
    distributed = True  # accelerate shares the work (docs/scale.md)
    plots = (Plot("ppo", update_points, curves),)
    headline = staticmethod(reward_headline)

    def preview(self) -> list[tuple[str, Chat]]:
        """The rollout prompts of the first update."""
        from constlang.runtime.ppo.rollout import batch_indices

        ctx, s = self.ctx, self.ctx.settings
        rows = read_prompts(ctx.plan.dataset(s.prompts), ctx.base_dir)
        found = queries(ctx.plan, ctx.stage, ctx.base_dir)
        first = sorted(set(batch_indices(0, len(found), s.batch_size, s.seed)))
        return [(f"{ctx.name} · prompt {rows[i].prompt_id} · respond (first update)",
                 found[i].chat) for i in first]

    def load(self) -> None:
        from constlang.runtime.check_rewards import CheckRewards
        from constlang.runtime.models import load_model
        from constlang.runtime.ppo.rewards import RolloutRewards
        from constlang.runtime.reward import RewardScorer

        ctx, s = self.ctx, self.ctx.settings
        if s.kl_target is not None and s.kl_coef == 0:
            raise PPOError("kl_target adapts kl_coef by multiplying it, so it cannot start at 0; "
                           "set kl_coef > 0 (e.g. 0.05)")
        self.queries = queries(ctx.plan, ctx.stage, ctx.base_dir)
        self.policy_spec = policy_spec(ctx.plan, s.policy, ctx.run, "policy")
        self.accelerator = accelerator_for(s, ctx.folder, ctx.device)
        device = str(self.accelerator.device)
        dtype = T.weights_dtype(s, device)
        common: dict[str, Any] = {"device": device, "base_dir": ctx.base_dir}
        self.policy = load_model(self.policy_spec, dtype=dtype, **common)
        self.critic, scorer = None, None
        if s.reward:
            reward_spec = policy_spec(ctx.plan, s.reward, ctx.run, "reward model")
            reward = load_model(reward_spec, **common, head="reward")
            scorer = RewardScorer(reward, batch_size=s.batch_size)
            if s.value_model == "reward":
                self.critic = self.reward_critic(reward, reward_spec, dtype, common)
        elif s.value_model == "reward":
            raise PPOError("value_model = reward needs `reward`; without a reward model set "
                           "value_model = policy_head")
        checks = CheckRewards.of(ctx.plan, s.checks, self.policy.tokenizer)
        if scorer is None and checks is None:
            raise PPOError("nothing rewards a rollout: set `reward`, `checks`, or both")
        self.scorer = RolloutRewards(scorer, checks, s.reward_weight)
        ctx.say(f"PPO on `{s.policy}` against {reward_source(s)}: {s.steps} updates × "
                f"{s.batch_size} rollouts, critic: {s.value_model}, on {device}")

    def reward_critic(self, reward: Any, spec: Any, dtype: Any, common: dict[str, Any]) -> Any:
        """value_model = reward: a trainable copy of the reward model, which must share the
        policy's tokenizer."""
        from constlang.runtime.models import load_model

        s = self.ctx.settings
        if reward.tokenizer.get_vocab() != self.policy.tokenizer.get_vocab():
            raise PPOError(f"value_model = reward needs the reward model `{s.reward}` to "
                           f"share the policy's tokenizer; use value_model = policy_head")
        return load_model(spec, dtype=dtype, **common, head="reward").model

    def run(self) -> dict[str, Any]:
        from constlang.runtime.ppo.actors import Actors
        from constlang.runtime.ppo.loop import PPOLoop
        from constlang.runtime.ppo.state import checkpoint_step, load_checkpoint

        ctx, s, folder = self.ctx, self.ctx.settings, PPODir.of(self.ctx.folder)
        actors = Actors.build(self.policy.model, s, self.scorer, self.critic)
        loop = PPOLoop(s, actors, self.policy.tokenizer, self.queries, self.policy_spec,
                       self.accelerator)
        resources.note_training(self.policy.model, str(self.accelerator.mixed_precision))
        resumed = checkpoint_step(folder.checkpoint)
        if resumed is not None:
            load_checkpoint(self.accelerator, folder.checkpoint)
            ctx.say(f"resuming after update {resumed} from {folder.checkpoint}")
        if self.accelerator.is_main_process:
            folder.metrics.drop_after(UPDATE_EVENT, loop.state.step)
        self.accelerator.init_trackers(ctx.name, config=s.model_dump(mode="json", by_alias=True))
        with ctx.progress("updates", total=s.steps) as update:
            update(completed=loop.state.step)
            loop.train(metrics=folder.metrics, checkpoint=folder.checkpoint,
                       on_step=lambda m: update(completed=m["step"]))
        metrics = {**summary(folder), "resumed_from": resumed or 0,
                   "processes": self.accelerator.num_processes,
                   "distribution": str(self.accelerator.distributed_type.value)}
        if self.accelerator.is_main_process:
            final = actors.final_model(self.accelerator.unwrap_model(loop.policy))
            T.save_model(final, self.policy.tokenizer, folder,
                         model_card(ctx.plan, ctx.stage, self.policy_spec, metrics))
            with suppress(OSError):  # the model is saved: the checkpoint is scratch now
                remove_own(folder.checkpoint)
        self.accelerator.wait_for_everyone()  # the model is complete before anyone hashes it
        # the trackers only: accelerate's end_training would also destroy the process group,
        # which a later stage of the same launch still needs (the runner closes it at the end)
        for tracker in self.accelerator.trackers:
            tracker.finish()
        ctx.timings["train_s"] = metrics.get("seconds", 0.0)
        ctx.say(f"saved {folder.model} (reward {metrics.get('reward_start')} → "
                f"{metrics.get('reward_end')}, KL {metrics.get('kl_end')})")
        return metrics

    def outputs(self) -> str:
        return sha256_tree(self.ctx.folder.model)
