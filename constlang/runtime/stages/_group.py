"""GRPO and RLOO, shared: the prompt dataset, the reward functions (a reward model's score or a
judge's probability of a good answer), the TRL config, training with resume, and the summary."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from constlang import plan as P
from constlang.errors import StageError
from constlang.prompts import Chat, find_step, question_vars, render_step
from constlang.runtime import training as T
from constlang.runtime.check_rewards import MODEL_KEY, CheckRewards, component_summary
from constlang.runtime.check_rewards import mean as batch_mean
from constlang.runtime.data import read_prompts
from constlang.runtime.preferences import option_probability
from constlang.runtime.rundir import StageDir, logged_number, recover_jsonl, sha256_tree
from constlang.runtime.stages.base import StageRunner, policy_spec, reward_headline

SUMMARY_WINDOW = 5  # logged updates averaged for the manifest's "start" and "end" figures
PROMPT_TEXT = "prompt_text"  # the dataset column with the plain prompt, beside the chat
TAGS = "tags"  # the dataset column with the prompt's tags (which checks apply)
# manifest figure → the trainer's logged key (means over the last SUMMARY_WINDOW updates)
AT_END = {"kl_end": "kl", "entropy_end": "entropy",
          "completion_length_end": "completions/mean_length",
          "truncated_fraction_end": "completions/clipped_ratio",
          "reward_std_end": "reward_std"}


def prompt_rows(plan: P.Plan, stage: Any, base_dir: Any) -> list[dict[str, Any]]:
    """The trainer's dataset: each prompt in the `respond` step's template as a one-turn chat
    (TRL's conversational format), beside the plain prompt the reward model and judge see
    (as in the preference pairs a reward model is trained on, and as ppo scores) and its
    tags (TRL passes both columns to the reward functions)."""
    step = find_step(plan.program(stage.name), "respond")
    rows = read_prompts(plan.dataset(stage.settings.prompts), base_dir)
    return [{"prompt": [{"role": "user", "content": render_step(
        stage.name, stage.kind, step, {"prompt": r.prompt, "examples": []})}],
        PROMPT_TEXT: r.prompt, TAGS: sorted(r.tags)} for r in rows]


def completion_text(completion: Any) -> str:
    """A completion's text: the last message of a conversational one, else the string."""
    return str(completion[-1]["content"]) if isinstance(completion, list) else str(completion)


class ModelReward:
    """A TRL reward function: the reward model's score of each (prompt, completion)."""

    def __init__(self, scorer: Any) -> None:
        self.scorer = scorer
        self.__name__ = "reward_model"  # TRL logs rewards/<name>/mean

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],
                 **columns: Any) -> list[float]:
        scores = self.scorer.score(columns[PROMPT_TEXT],
                                   [completion_text(c) for c in completions])
        log_figures(columns, {MODEL_KEY: batch_mean(scores)})
        return scores


class ChecksReward:
    """A TRL reward function: the check rewards of each completion, Σ weight × (±1) over the
    checks that apply to its prompt's tags; each check's pass rate is logged per update."""

    def __init__(self, checks: CheckRewards) -> None:
        self.checks = checks
        self.__name__ = "checks"

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],
                 **columns: Any) -> list[float]:
        rewards, figures = self.checks.score(columns[PROMPT_TEXT],
                                             [completion_text(c) for c in completions],
                                             columns.get(TAGS) or [()] * len(completions))
        log_figures(columns, figures)
        return rewards


def log_figures(columns: dict[str, Any], figures: dict[str, float]) -> None:
    """Hand figures to TRL's per-update log (the `log_metric` it passes reward functions)."""
    log = columns.get("log_metric")
    if log is None:
        return
    for name, value in figures.items():
        log(name, value)


class JudgeReward:
    """A TRL reward function: the judge's probability of the good answer to a pointwise
    question about each (prompt, completion), from the log-probabilities of the two options
    (no generation). A completion the judge cannot score (too long) gets 0.5."""

    def __init__(self, engine: Any, stage: Any, step: P.ProgramStep, question: P.Question,
                 judge: P.Model) -> None:
        self.engine, self.stage, self.step, self.question, self.judge = (
            engine, stage, step, question, judge)
        self.good = question.options.index(question.good_answer or question.options[-1])
        self.__name__ = "judge"

    def chats(self, prompts: Sequence[str], replies: Sequence[str]) -> list[Chat]:
        """The judge's prompts, rendered by the stage's `judge` step."""
        return [[{"role": "user", "content": render_step(
            self.stage.name, self.stage.kind, self.step,
            {"prompt": p, "response": r, "question": question_vars(self.question),
             "examples": []})}] for p, r in zip(prompts, replies, strict=True)]

    def probabilities(self, prompts: Sequence[str], replies: Sequence[str]) -> list[float]:
        scores = self.engine.score_options(self.chats(prompts, replies),
                                           list(self.question.options),
                                           overflow=self.judge.overflow,
                                           context_length=self.judge.context_length)
        return [option_probability([float(x) for x in s], self.good) for s in scores]

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],
                 **columns: Any) -> list[float]:
        found = self.probabilities(columns[PROMPT_TEXT],
                                   [completion_text(c) for c in completions])
        log_figures(columns, {MODEL_KEY: batch_mean(found)})
        return found


def trainer_config(config_class: type[Any], s: Any, folder: StageDir, device: str,
                   **own: Any) -> Any:
    """The GRPOConfig or RLOOConfig of a stage: `steps` updates, every update logged, the
    shared settings mapped by name and the algorithm's own fields in `own`."""
    per_update = s.batch_size * s.gradient_accumulation_steps
    with T.quiet_trainer():
        return T.trainer_config(
            config_class, s, folder, device, s.steps * per_update, max_steps=s.steps,
            logging_steps=1, num_generations=s.num_generations,
            max_completion_length=s.max_new_tokens, temperature=s.temperature, beta=s.beta,
            epsilon=s.clip_range, num_iterations=s.iterations,
            mask_truncated_completions=s.mask_truncated, **own)


def summary(folder: StageDir) -> dict[str, Any]:
    """Reward at the start and the end of training, and KL, entropy and completion figures at
    the end (means over a few updates), read back from metrics.jsonl."""
    path = folder.metrics.path
    rows = [r for r in recover_jsonl(path) if r.get("event") == "train" and "reward" in r]
    if not rows:
        return {}
    # a short run: its first and last halves, so the two figures never share an update
    window = min(SUMMARY_WINDOW, max(1, len(rows) // 2))
    first, last = rows[:window], rows[-window:]

    def mean(part: list[dict[str, Any]], key: str) -> float:
        return round(sum(logged_number(path, r, key) for r in part) / len(part), 4)

    out = {"reward_start": mean(first, "reward"), "reward_end": mean(last, "reward")}
    out.update({name: mean(last, key) for name, key in AT_END.items()
                if all(key in r for r in last)})
    return {**out, **component_summary(path, first, last)}


class GroupRunner(StageRunner):
    """Runs a grpo or rloo stage on TRL's trainer; resumable from its last checkpoint."""

    label: ClassVar[str]  # the algorithm's name in messages and the model card
    trainer_name: ClassVar[str]  # TRL's trainer class, e.g. GRPOTrainer
    headline = staticmethod(reward_headline)

    def own_config(self) -> dict[str, Any]:
        """The algorithm's own config fields."""
        return {}

    def resume_note(self) -> str | None:
        return T.resume_note(self.ctx.folder)

    def preview(self) -> list[tuple[str, Chat]]:
        """The chats of the prompts of one sampled batch."""
        ctx, s = self.ctx, self.ctx.settings
        rows = read_prompts(ctx.plan.dataset(s.prompts), ctx.base_dir)
        chats = prompt_rows(ctx.plan, ctx.stage, ctx.base_dir)
        shown = s.batch_size * s.gradient_accumulation_steps // s.num_generations
        return [(f"{ctx.name} · prompt {r.prompt_id} · respond", c["prompt"])
                for r, c in list(zip(rows, chats, strict=True))[:max(shown, 1)]]

    def load(self) -> None:
        from constlang.runtime.models import load_model

        ctx, s = self.ctx, self.ctx.settings
        per_update = s.batch_size * s.gradient_accumulation_steps
        if per_update % s.num_generations:
            raise StageError(f"batch_size × gradient_accumulation_steps ({per_update}) must be a "
                             f"multiple of num_generations ({s.num_generations}): each update "
                             "samples whole groups")
        self.rows = prompt_rows(ctx.plan, ctx.stage, ctx.base_dir)
        if len(self.rows) < per_update // s.num_generations:
            raise StageError(f"an update samples {per_update // s.num_generations} prompts, but "
                             f"dataset `{s.prompts}` has {len(self.rows)}")
        self.policy_spec = policy_spec(ctx.plan, s.policy, ctx.run)
        common: dict[str, Any] = {"device": ctx.device, "base_dir": ctx.base_dir}
        self.policy = load_model(self.policy_spec, dtype=T.weights_dtype(s, ctx.device),
                                 **common)
        self.rewards, self.weights, self.source = self.reward_functions(common)

    def reward_functions(self, common: dict[str, Any]) -> tuple[list[Any], list[float], str]:
        """(TRL's reward functions, their weights, what they are in words): the reward model's
        score or the judge's probability (× reward_weight), then the check rewards (× 1)."""
        ctx, s = self.ctx, self.ctx.settings
        rewards: list[Any] = []
        weights: list[float] = []
        sources = []
        if s.reward_source == "judge":
            judged = self.judge_reward(common)
            rewards.append(judged)
            sources.append(f"judge `{s.judge}` ({judged.question.id}: "
                           f"{judged.question.good_answer})")
        elif s.reward:
            rewards.append(self.model_reward(common))
            sources.append(f"reward model `{s.reward}`")
        if rewards:
            weights.append(s.reward_weight)
            if s.reward_weight != 1:
                sources[-1] += f" × {s.reward_weight:g}"
        checks = CheckRewards.of(ctx.plan, s.checks, self.policy.tokenizer)
        if checks is not None:
            rewards.append(ChecksReward(checks))
            weights.append(1.0)
            sources.append("checks " + ", ".join(f"`{c}`" for c in s.checks))
        if not rewards:
            raise StageError("reward_source = reward_model needs `reward` (a reward_model "
                             "stage), `checks`, or both")
        return rewards, weights, " + ".join(sources)

    def judge_reward(self, common: dict[str, Any]) -> JudgeReward:
        """reward_source = judge: the judge's probability of the question's good answer."""
        from constlang.runtime.generate import GenerationEngine
        from constlang.runtime.models import load_model

        ctx, s = self.ctx, self.ctx.settings
        question = next((q for q in ctx.plan.questions if q.id == s.judge_question), None)
        if not s.judge or question is None or question.kind != "pointwise":
            raise StageError("reward_source = judge needs `judge` and a pointwise "
                             "`judge_question`, e.g. judge_question = is_safe")
        judge = ctx.plan.model(s.judge)
        step = find_step(ctx.plan.program(ctx.name), "judge")
        engine = GenerationEngine(load_model(judge, **common), batch_size=s.batch_size)
        return JudgeReward(engine, ctx.stage, step, question, judge)

    def model_reward(self, common: dict[str, Any]) -> ModelReward:
        """The `reward` stage's model, scoring as it was trained."""
        from constlang.runtime.models import load_model
        from constlang.runtime.reward import RewardScorer

        ctx, s = self.ctx, self.ctx.settings
        folder = ctx.run.stage(s.reward).model
        if not folder.is_dir():
            raise StageError(f"reward stage `{s.reward}` saved no model in {folder}; run "
                             "it first")
        base = ctx.plan.base_model(s.reward)
        if base is None:
            raise StageError(f"reward stage `{s.reward}` names no model")
        spec = base.model_copy(update={"id": s.reward, "source": str(folder.resolve()),
                                       "gguf_file": None})
        trained_on = getattr(ctx.plan.stage(s.reward).settings, "max_length", None)
        return ModelReward(RewardScorer(load_model(spec, **common, head="reward"),
                                        batch_size=s.batch_size, max_length=trained_on))

    def run(self) -> dict[str, Any]:
        import trl
        from datasets import Dataset

        ctx, s, folder = self.ctx, self.ctx.settings, self.ctx.folder
        resume = T.last_checkpoint(folder)
        done = int(resume.name.rsplit("-", 1)[-1]) if resume else 0
        folder.metrics.drop_after("train", done)
        ctx.say(f"{self.label} on `{s.policy}` with {self.source}: {s.steps} updates, "
                f"{s.num_generations} completions per prompt, on {ctx.device}")
        config = trainer_config(getattr(trl, f"{self.label}Config"), s, folder, ctx.device,
                                reward_weights=self.weights, **self.own_config())
        last: dict[str, float] = {}
        with ctx.progress("updates", total=s.steps) as update, T.quiet_trainer():
            trainer = getattr(trl, self.trainer_name)(
                model=self.policy.model, reward_funcs=self.rewards, args=config,
                train_dataset=Dataset.from_list(self.rows),
                processing_class=self.policy.tokenizer, peft_config=T.lora_config(s),
                callbacks=[T.report_callback(folder.metrics,
                                             lambda k, n: update(completed=k, total=n),
                                             into=last)])
            result = T.train(trainer, resume)
        metrics = {**T.train_metrics(result, len(self.rows)), **summary(folder),
                   "reward_source": s.reward_source, "resumed_from": done}
        T.save_model(trainer.model, self.policy.tokenizer, folder,
                     self.model_card(metrics), lora=s.lora)
        ctx.timings["train_s"] = metrics["seconds"]
        ctx.say(f"saved {folder.model} (reward {metrics.get('reward_start')} → "
                f"{metrics.get('reward_end')}"
                + (f", KL {metrics['kl_end']}" if "kl_end" in metrics else "") + ")")
        return metrics

    def model_card(self, metrics: dict[str, Any]) -> str:
        """The README.md saved next to the trained policy."""
        ctx = self.ctx
        c, s = ctx.plan.constitution, ctx.settings
        settings = json.dumps(s.model_dump(mode="json", by_alias=True), indent=2)
        return (
            "---\nlibrary_name: transformers\ntags: [constlang, constitutional-ai, "
            f"{self.kind}, trl]\n---\n\n"
            f"# {c.name} {c.version}: RL policy ({self.label})\n\n"
            f"Trained by constlang stage `{ctx.name}`: policy `{s.policy}` optimised with "
            f"{self.label} ({s.num_generations} completions per prompt) against "
            f"{self.source}, with a KL penalty of {s.beta} to the starting policy.\n\n"
            f"- Constitution: `{c.name}`, version `{c.version}`; plan hash "
            f"`{ctx.plan.hash or ctx.plan.compute_hash()}`\n"
            f"- Base model: `{self.policy_spec.id}` (`{self.policy_spec.source}`)\n"
            f"- Updates: {metrics['steps']}; reward {metrics.get('reward_start')} → "
            f"{metrics.get('reward_end')}\n"
            f"- LoRA: {'yes, merged into the weights' if s.lora else 'no, full fine-tune'}\n\n"
            f"{c.description.strip()}\n\n## Settings\n\n```json\n{settings}\n```\n")

    def outputs(self) -> str:
        return sha256_tree(self.ctx.folder.model)
