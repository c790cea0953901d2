"""SFT stage: fine-tune the policy on the critique_revision stage's revisions (or a best_of_n
stage's kept replies) with TRL."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constlang import plan as P
from constlang.declarations import names
from constlang.errors import StageError
from constlang.kinds.sft import SFTSettings
from constlang.runtime import training as T
from constlang.runtime.rundir import StageDir, sha256_tree
from constlang.runtime.stages.base import StageRunner, num
from constlang.runtime.stages.critique_revision import CritiqueRevisionDir


class SFTDataError(StageError):
    """The upstream stage left nothing to train on."""


def training_rows(sft_path: Path | Sequence[Path], rounds: str) -> list[dict[str, Any]]:
    """Prompt/completion rows from the upstream sft.jsonl (or several, merged in order), per
    the stage's `rounds` setting.

    all: every round's revision; last: each prompt's final round (a best_of_n stage marks
    every kept reply `last`). Rows the upstream stage marked with a `drop` reason (truncated,
    unchanged, meta, or the unrevised first answer of a skipped round) are never targets; a
    text repeated within a prompt is used once. The conversational prompt/completion form
    makes TRL compute the loss on the assistant's reply only.
    """
    paths = [sft_path] if isinstance(sft_path, Path) else list(sft_path)
    out: list[dict[str, Any]] = []
    for path in paths:
        out += _file_rows(path, rounds)
    if not out:
        where = ", ".join(str(p) for p in paths)
        raise SFTDataError(f"no training data: {where} has no row worth training on (see "
                           "`sft_dropped` in the upstream manifest; the critique_revision "
                           "settings keep_truncated, drop_unchanged and drop_meta decide, or "
                           "the checks and filters of the best_of_n stage)")
    return out


def _file_rows(sft_path: Path, rounds: str) -> list[dict[str, Any]]:
    """The training rows of one upstream sft.jsonl (see training_rows)."""
    if not sft_path.is_file():
        raise SFTDataError(f"no training data: {sft_path} does not exist")
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, int, str]] = set()
    for line in sft_path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        user, assistant = row["messages"]
        if rounds == "last" and not row["last"]:
            continue
        if row.get("drop"):
            continue
        key = (row.get("source", "revision"), row["index"], assistant["content"])
        if key in seen:
            continue
        seen.add(key)
        out.append({"prompt": [user], "completion": [assistant]})
    return out


def model_card(plan: P.Plan, stage: Any, base: P.Model, rows: int) -> str:
    """The README.md saved next to the fine-tuned model."""
    c = plan.constitution
    s = stage.settings
    settings = json.dumps(s.model_dump(mode="json", by_alias=True), indent=2)
    sources = ", ".join(f"`{n}`" for n in names(s.from_))
    return (
        "---\nlibrary_name: transformers\ntags: [constlang, constitutional-ai, sft, trl]\n---\n\n"
        f"# {c.name} {c.version}: supervised policy\n\n"
        f"Fine-tuned by constlang stage `{stage.name}` on the SFT rows of stage(s) {sources} "
        "(Constitutional AI, supervised phase).\n\n"
        f"- Constitution: `{c.name}`, version `{c.version}`\n"
        f"- Plan hash: `{plan.hash or plan.compute_hash()}`\n"
        f"- Base model: `{base.id}` (`{base.source}`)\n"
        f"- Training rows: {rows} (rounds = `{s.rounds}`)\n"
        f"- LoRA: {'yes, merged into the weights' if s.lora else 'no, full fine-tune'}\n\n"
        f"{c.description.strip()}\n\n## Settings\n\n```json\n{settings}\n```\n"
    )


@dataclass
class SFTInputs:
    """What an sft stage trains: its rows, and the base model loaded with its tokenizer."""

    stage: Any
    rows: list[dict[str, Any]]
    base: P.Model
    loaded: Any  # constlang.runtime.models.LoadedModel


def load_sft(plan: P.Plan, stage_name: str, *, base_dir: Path,
             upstream: StageDir | Sequence[StageDir], device: str) -> SFTInputs:
    """Read the upstream SFT rows (of one stage, or several merged) and load the base model;
    writes nothing."""
    from constlang.runtime.models import load_model

    stage = plan.stage(stage_name)
    s: SFTSettings = stage.settings
    folders = [upstream] if isinstance(upstream, StageDir) else list(upstream)
    rows = training_rows([CritiqueRevisionDir.of(f).sft_data for f in folders], s.rounds)
    base = plan.base_model(stage_name)
    if base is None:
        raise SFTDataError(f"stage `{stage_name}` names no model to fine-tune")
    return SFTInputs(stage, rows, base, load_model(base, device=device, base_dir=base_dir,
                                                   dtype=T.weights_dtype(s, device)))


def train_sft(plan: P.Plan, inputs: SFTInputs, *, out: StageDir, device: str,
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Fine-tune the loaded model on the rows (from the stage's last checkpoint, if an
    unfinished run saved one); save it as the stage's model."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    s: SFTSettings = inputs.stage.settings
    rows, loaded = inputs.rows, inputs.loaded
    config = T.trainer_config(SFTConfig, s, out, device, len(rows))
    with T.quiet_trainer():
        trainer = SFTTrainer(model=loaded.model, args=config,
                             train_dataset=Dataset.from_list(rows),
                             processing_class=loaded.tokenizer, peft_config=T.lora_config(s),
                             callbacks=[T.report_callback(out.metrics, progress)])
    result = T.train(trainer, T.last_checkpoint(out))
    card = model_card(plan, inputs.stage, inputs.base, len(rows))
    T.save_model(trainer.model, loaded.tokenizer, out, card, lora=s.lora)
    return T.train_metrics(result, len(rows))


class SFTRunner(StageRunner):
    """Runs an sft stage: TRL's SFTTrainer on the SFT rows of its `from` stage(s)."""

    kind = "sft"

    @staticmethod
    def headline(metrics: dict[str, Any]) -> str:
        return f"{metrics.get('steps', '-')} steps, loss {num(metrics.get('train_loss'))}"

    def load(self) -> None:
        ctx, s = self.ctx, self.ctx.settings
        sources = names(s.from_)
        ctx.say(f"fine-tuning on the SFT rows of {', '.join(f'`{n}`' for n in sources)} "
                f"(rounds = {s.rounds}, {s.epochs:g} epoch{'' if s.epochs == 1 else 's'}) on "
                f"{ctx.device}")
        self.inputs = load_sft(ctx.plan, ctx.name, base_dir=ctx.base_dir,
                               upstream=[ctx.run.stage(n) for n in sources], device=ctx.device)

    def resume_note(self) -> str | None:
        return T.resume_note(self.ctx.folder)

    def run(self) -> dict[str, Any]:
        ctx = self.ctx
        with ctx.progress("training") as update:
            metrics = train_sft(ctx.plan, self.inputs, out=ctx.folder, device=ctx.device,
                                progress=lambda step, total: update(completed=step, total=total))
        ctx.timings["train_s"] = metrics["seconds"]
        ctx.say(f"saved {ctx.folder.model} (loss {metrics['train_loss']:.4f}, "
                f"{metrics['steps']} steps)")
        return metrics

    def outputs(self) -> str:
        return sha256_tree(self.ctx.folder.model)
