"""Reward-model stage: a sequence-classification model trained on a feedback stage's preferences
with TRL's RewardTrainer (soft labels through the smallest override of its loss)."""

from __future__ import annotations

import json
from typing import Any

from constlang import plan as P
from constlang.declarations import names
from constlang.errors import StageError
from constlang.files import atomic_write_text
from constlang.runtime import preference_rows as PR
from constlang.runtime import reward as R
from constlang.runtime import training as T
from constlang.runtime.rundir import Artifact, StageDir, sha256_tree
from constlang.runtime.stages.base import StageRunner, num, pct


def soft_reward_trainer() -> type[Any]:
    """TRL's RewardTrainer with the soft-target loss when a batch carries `p_chosen`: its own
    forward pass and metrics run unchanged (super().compute_loss), then the loss is replaced by
    −p·logσ(Δ) − (1−p)·logσ(−Δ) (equal to TRL's at p = 1)."""
    from trl import RewardTrainer

    class SoftRewardTrainer(RewardTrainer):  # type: ignore[misc]
        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            p_chosen = inputs.pop("p_chosen", None)
            loss, outputs = super().compute_loss(model, inputs, return_outputs=True,
                                                 num_items_in_batch=num_items_in_batch)
            if p_chosen is not None:
                chosen, rejected = outputs.logits.squeeze(-1).chunk(2)
                loss = R.soft_loss(chosen - rejected, p_chosen)
                center = getattr(self.args, "center_rewards_coefficient", None)
                if center is not None:
                    loss = loss + center * ((chosen + rejected) ** 2).mean()
            return (loss, outputs) if return_outputs else loss

    return SoftRewardTrainer


def collator(pad_token_id: int) -> Any:
    """TRL's preference collator, passing each pair's `p_chosen` on as a tensor."""
    import torch
    from trl.trainer.reward_trainer import DataCollatorForPreference

    base = DataCollatorForPreference(pad_token_id=pad_token_id)

    def collate(examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = base([{k: v for k, v in e.items() if k in ("chosen_ids", "rejected_ids")}
                      for e in examples])
        batch["p_chosen"] = torch.tensor([e["p_chosen"] for e in examples], dtype=torch.float)
        return dict(batch)

    return collate


def model_card(plan: P.Plan, stage: Any, base: P.Model, metrics: dict[str, Any]) -> str:
    c, s = plan.constitution, stage.settings
    held = metrics["heldout"]
    return (
        "---\nlibrary_name: transformers\ntags: [constlang, constitutional-ai, reward-model, "
        "trl]\n---\n\n"
        f"# {c.name} {c.version}: reward model\n\n"
        f"Trained by constlang stage `{stage.name}` on the preferences of stage(s) "
        f"{', '.join(f'`{n}`' for n in names(s.from_))} "
        f"({'soft' if s.soft_labels else 'hard'} labels). It scores a (prompt, "
        "reply) conversation with one number: higher is preferred.\n\n"
        f"- Constitution: `{c.name}`, version `{c.version}`; plan hash "
        f"`{plan.hash or plan.compute_hash()}`\n"
        f"- Base model: `{base.id}` (`{base.source}`)\n"
        f"- Pairs: {metrics['train_pairs']} trained on; "
        f"{R.heldout_text(held, metrics['train_pairs'], s.eval_fraction)}\n"
        + "".join(f"- {w}\n" for w in metrics.get("warnings", []))
    )


class RewardModelDir(StageDir):
    """A reward_model stage's folder: besides its model, how the model scores held-out pairs."""

    heldout = Artifact("heldout.jsonl", "The held-out pairs with the trained model's scores "
                       "(JSONL).")
    reliability = Artifact("reliability.png", "The reliability diagram of the held-out pairs.")


class RewardModelRunner(StageRunner):
    """Runs a reward_model stage."""

    kind = "reward_model"

    @staticmethod
    def headline(metrics: dict[str, Any]) -> str:
        held = metrics.get("heldout") or {}
        few = " (few pairs: see warnings)" if metrics.get("warnings") else ""
        if held.get("pairs") == 0:
            return f"{metrics.get('train_pairs', '-')} pairs, none held out{few}"
        return (f"{metrics.get('train_pairs', '-')} pairs, held-out accuracy "
                f"{pct(held.get('accuracy'))}, ECE {num(held.get('calibration_error'), 2)}{few}")

    def load(self) -> None:
        from constlang.runtime.models import load_model

        ctx, s = self.ctx, self.ctx.settings
        rows, self.sources = PR.read_sources(ctx.run, names(s.from_))  # merged into one dataset
        self.pairs, self.left_out = PR.training_pairs(rows, soft=s.soft_labels)
        if not self.pairs:
            raise StageError(f"no preference pairs to train on in {', '.join(self.sources)} "
                             "(left out: " + ", ".join(f"{n} {why}" for why, n in
                                                       self.left_out.items()) + ")")
        base = ctx.plan.base_model(ctx.name)
        if base is None:
            raise StageError(f"stage `{ctx.name}` names no base model")
        self.base: P.Model = base
        self.loaded = load_model(self.base, device=ctx.device, base_dir=ctx.base_dir,
                                 dtype=T.weights_dtype(s, ctx.device), head="reward",
                                 seed=s.seed)
        fitting = [p for p in self.pairs if R.fits(self.loaded.tokenizer, p, s.max_length)]
        if len(fitting) < len(self.pairs):
            self.left_out["over_max_length"] = len(self.pairs) - len(fitting)
            self.pairs = fitting
        if not self.pairs:
            raise StageError(f"no preference pair fits in max_length = {s.max_length} tokens; "
                             f"raise it (--set {ctx.name}.max_length=N)")

    def resume_note(self) -> str | None:
        return T.resume_note(self.ctx.folder)

    def run(self) -> dict[str, Any]:
        from datasets import Dataset
        from trl import RewardConfig

        ctx, s = self.ctx, self.ctx.settings
        train, held = R.split(self.pairs, s.eval_fraction, s.seed)
        ctx.say(f"training a reward model on {len(train)} preference pairs of "
                f"{', '.join(f'`{n}`' for n in self.sources)} "
                f"({len(held)} held out, {'soft' if s.soft_labels else 'hard'} labels) on "
                f"{ctx.device}")
        where = ctx.stage.location
        warning = R.few_pairs_warning(len(train), ctx.name,
                                      f"{where.file}:{where.line}" if where else None)
        if warning:
            ctx.console.print(warning, style="yellow", highlight=False, markup=False)
        with T.quiet_trainer():
            config = T.trainer_config(RewardConfig, s, ctx.folder, ctx.device, len(train),
                                      remove_unused_columns=False)
        rows = [{k: v for k, v in p.items() if k not in ("index", "stage")} for p in train]
        tok = self.loaded.tokenizer
        with ctx.progress("training") as update, T.quiet_trainer():
            trainer = soft_reward_trainer()(
                model=self.loaded.model, args=config, train_dataset=Dataset.from_list(rows),
                processing_class=tok, data_collator=collator(tok.pad_token_id),
                peft_config=T.lora_config(s, task_type="SEQ_CLS"),
                callbacks=[T.report_callback(ctx.folder.metrics,
                                             lambda k, n: update(completed=k, total=n))])
            result = T.train(trainer, T.last_checkpoint(ctx.folder))
        self.loaded.model = trainer.model
        metrics = {**T.train_metrics(result, len(train)), "train_pairs": len(train),
                   "sources": self.sources, "left_out": self.left_out,
                   "heldout": self.evaluate(held), "warnings": [warning] if warning else []}
        if s.lora:
            self.loaded.model = trainer.model.merge_and_unload()
        T.save_model(self.loaded.model, tok, ctx.folder,
                     model_card(ctx.plan, ctx.stage, self.base, metrics))
        ctx.timings["train_s"] = metrics["seconds"]
        ctx.say(f"saved {ctx.folder.model}; "
                f"{R.heldout_text(metrics['heldout'], len(train), s.eval_fraction)}")
        return metrics

    def evaluate(self, held: list[dict[str, Any]]) -> dict[str, Any]:
        """Score the held-out pairs; write heldout.jsonl and the reliability diagram."""
        s = self.ctx.settings
        scorer = R.RewardScorer(self.loaded, batch_size=s.batch_size, max_length=s.max_length)
        prompts = [p["prompt"] for p in held]
        chosen = scorer.score(prompts, [PR.text(p["chosen"]) for p in held])
        rejected = scorer.score(prompts, [PR.text(p["rejected"]) for p in held])
        deltas = [c - r for c, r in zip(chosen, rejected, strict=True)]
        labels = [p["p_chosen"] for p in held]
        folder = RewardModelDir.of(self.ctx.folder)
        atomic_write_text(folder.heldout, "".join(json.dumps({
            "stage": p["stage"], "index": p["index"], "p_chosen": p["p_chosen"],
            "reward_chosen": round(c, 6),
            "reward_rejected": round(r, 6)}) + "\n" for p, c, r in zip(held, chosen, rejected,
                                                                      strict=True)),
            make_parents=True, follow=False)
        if held:
            R.reliability_diagram(deltas, labels, folder.reliability,
                                  f"{self.ctx.name}: {len(held)} held-out pairs")
        return R.heldout_metrics(deltas, labels)

    def outputs(self) -> str:
        return sha256_tree(self.ctx.folder.model)
