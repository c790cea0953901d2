"""DPO stage: the policy trained straight on preference pairs (feedback and/or revision pairs)
with TRL's DPOTrainer; the reference is the starting policy, frozen."""

from __future__ import annotations

from typing import Any

from constlang import plan as P
from constlang.declarations import names
from constlang.errors import StageError
from constlang.runtime import preference_rows as PR
from constlang.runtime import reward as R
from constlang.runtime import training as T
from constlang.runtime.rundir import sha256_tree
from constlang.runtime.stages.base import StageRunner, num, policy_spec

LOGGED = ("rewards/accuracies", "rewards/margins", "rewards/chosen", "rewards/rejected")


def flip_rate(pairs: list[dict[str, Any]]) -> float:
    """The share of flipped labels that soft labels imply: mean of 1 − p_chosen, kept below
    0.5 (robust DPO divides by 1 − 2ε)."""
    mean = sum(1.0 - p["p_chosen"] for p in pairs) / len(pairs)
    return round(min(max(mean, 0.0), 0.45), 6)


def model_card(plan: P.Plan, stage: Any, base: P.Model, metrics: dict[str, Any]) -> str:
    c, s = plan.constitution, stage.settings
    return (
        "---\nlibrary_name: transformers\ntags: [constlang, constitutional-ai, dpo, trl]\n---\n\n"
        f"# {c.name} {c.version}: DPO policy\n\n"
        f"Trained by constlang stage `{stage.name}` from `{s.policy}` with DPO (loss "
        f"`{s.loss}`, beta {s.beta}) on {metrics['train_pairs']} preference pairs of "
        f"{', '.join(f'`{n}`' for n in names(s.from_))}.\n\n"
        f"- Constitution: `{c.name}`, version `{c.version}`; plan hash "
        f"`{plan.hash or plan.compute_hash()}`\n"
        f"- Base model: `{base.id}` (`{base.source}`)\n")


class DPORunner(StageRunner):
    """Runs a dpo stage."""

    kind = "dpo"

    @staticmethod
    def headline(metrics: dict[str, Any]) -> str:
        logged = metrics.get("last_logged") or {}
        return (f"{metrics.get('train_pairs', '-')} pairs, {metrics.get('steps', '-')} steps, "
                f"reward margin {num(logged.get('rewards/margins'))}")

    def resume_note(self) -> str | None:
        return T.resume_note(self.ctx.folder)

    def load(self) -> None:
        from constlang.runtime.models import load_model

        ctx, s = self.ctx, self.ctx.settings
        rows, self.sources = PR.read_sources(ctx.run, names(s.from_))
        self.pairs, self.left_out = PR.training_pairs(rows, soft=True)
        policy = policy_spec(ctx.plan, s.policy, ctx.run)
        base = ctx.plan.base_model(ctx.name)
        if base is None:
            raise StageError(f"stage `{ctx.name}` names no base model")
        self.base: P.Model = base
        self.loaded = load_model(policy, device=ctx.device, base_dir=ctx.base_dir,
                                 dtype=T.weights_dtype(s, ctx.device))
        tok = self.loaded.tokenizer
        fitting = [p for p in self.pairs if R.fits(tok, p, s.max_length)]
        if len(fitting) < len(self.pairs):
            self.left_out["over_max_length"] = len(self.pairs) - len(fitting)
            self.pairs = fitting
        if not self.pairs:
            raise StageError(f"no preference pairs to train on in {', '.join(self.sources)} "
                             "(left out: " + ", ".join(f"{n} {why}" for why, n in
                                                       self.left_out.items()) + ")")

    def run(self) -> dict[str, Any]:
        from datasets import Dataset
        from trl import DPOConfig, DPOTrainer

        ctx, s = self.ctx, self.ctx.settings
        smoothing = (s.label_smoothing if s.label_smoothing is not None
                     else flip_rate(self.pairs)) if s.loss == "robust" else 0.0
        ctx.say(f"DPO on {len(self.pairs)} preference pairs of "
                f"{', '.join(f'`{n}`' for n in self.sources)} from `{s.policy}` (loss {s.loss}"
                + (f", label smoothing {smoothing:g}" if s.loss == "robust" else "")
                + f") on {ctx.device}")
        with T.quiet_trainer():
            config = T.trainer_config(DPOConfig, s, ctx.folder, ctx.device, len(self.pairs),
                                      beta=s.beta, loss_type=[s.loss],
                                      label_smoothing=smoothing)
        rows = [{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in self.pairs]
        tok = self.loaded.tokenizer
        last: dict[str, float] = {}
        with ctx.progress("training") as update, T.quiet_trainer():
            trainer = DPOTrainer(
                model=self.loaded.model, ref_model=None, args=config,
                train_dataset=Dataset.from_list(rows), processing_class=tok,
                peft_config=T.lora_config(s),
                callbacks=[T.report_callback(ctx.folder.metrics,
                                             lambda k, n: update(completed=k, total=n),
                                             into=last)])
            result = T.train(trainer, T.last_checkpoint(ctx.folder))
        metrics = {**T.train_metrics(result, len(self.pairs)), "train_pairs": len(self.pairs),
                   "sources": self.sources, "left_out": self.left_out, "loss": s.loss,
                   "label_smoothing": smoothing,
                   "last_logged": {k: round(float(last[k]), 6) for k in LOGGED if k in last}}
        T.save_model(trainer.model, tok, ctx.folder,
                     model_card(ctx.plan, ctx.stage, self.base, metrics), lora=s.lora)
        ctx.timings["train_s"] = metrics["seconds"]
        logged = metrics["last_logged"]
        ctx.say(f"saved {ctx.folder.model} (loss {metrics['train_loss']:.4f}, "
                f"{metrics['steps']} steps"
                + (f", reward accuracy {logged['rewards/accuracies']:.2f}, margin "
                   f"{logged['rewards/margins']:.3f}" if "rewards/margins" in logged else "")
                + ")")
        return metrics

    def outputs(self) -> str:
        return sha256_tree(self.ctx.folder.model)
