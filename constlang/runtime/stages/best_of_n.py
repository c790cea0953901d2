"""Best-of-N stage: sample N replies per prompt, run the checks on each, keep passing replies as
SFT rows and pair passing over failing replies as preferences (rejection sampling)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constlang import plan as P
from constlang.checks.apply import CheckSet
from constlang.checks.base import ReplyContext
from constlang.declarations import names
from constlang.errors import StageError
from constlang.kinds.best_of_n import BestOfNSettings
from constlang.prompts import Chat, example_vars, find_step, render_step
from constlang.runtime import best_of_n_rows as R
from constlang.runtime.chunk_state import load_chunk_state, save_chunk_state, saved_chunk
from constlang.runtime.data import PromptRow, read_prompts
from constlang.runtime.engine import Generator, served_summaries
from constlang.runtime.generate import Generation, GenerationSettings
from constlang.runtime.preference_rows import FORMAT, PreferencesDir
from constlang.runtime.rundir import (
    Artifact,
    MetricsLog,
    process_in_chunks,
    sha256_file,
    sha256_json,
)
from constlang.runtime.sampling import call_seed, select
from constlang.runtime.sft_data import write_sft_rows
from constlang.runtime.stages.base import StageRunner, pct, policy_spec
from constlang.runtime.stages.critique_revision import CritiqueRevisionDir
from constlang.words import counted

Progress = Callable[[int], None]  # advance the bar by this many finished generations
Scorer = Callable[[list[Chat], list[str]], list[float]]  # (prompts, replies) → rewards


class BestOfNDir(PreferencesDir):
    """A best_of_n stage's folder: preferences.jsonl (reward_model and dpo read it), the SFT
    rows (the sft stage reads them, as a critique_revision stage's), every sample, the chunk
    in flight."""

    samples = Artifact("samples.jsonl", "Every prompt's sampled replies, each with its check "
                       "verdicts, why it could not be kept, its score, and which were kept and "
                       "paired (JSONL).")

    @property
    def sft_data(self) -> Path:
        return CritiqueRevisionDir.of(self).sft_data

    @property
    def partial(self) -> Path:
        return CritiqueRevisionDir.of(self).partial


def read_all_prompts(plan: P.Plan, datasets: str | list[str], base_dir: Path) -> list[PromptRow]:
    """The prompts of every dataset, in order, numbered through (each keeps its tags)."""
    rows: list[PromptRow] = []
    for name in names(datasets):
        rows += [PromptRow(len(rows) + r.index, r.prompt_id, r.prompt, r.tags)
                 for r in read_prompts(plan.dataset(name), base_dir)]
    return rows


def sampling_model(plan: P.Plan, s: BestOfNSettings) -> P.Model:
    """The policy's model declaration with the stage's sampling overrides."""
    base = plan.base_model(s.policy)
    if base is None:
        raise StageError(f"policy `{s.policy}` names no model to sample from")
    changes = {k: v for k in ("temperature", "top_p", "max_new_tokens")
               if (v := getattr(s, k)) is not None}
    return base.model_copy(update=changes)


@dataclass
class BestOfN:
    """One best_of_n stage of a plan, resolved: its respond step, examples, checks, model."""

    stage: Any  # the plan's best_of_n stage
    respond: P.ProgramStep
    examples: list[dict[str, Any]]
    checks: CheckSet
    model: P.Model  # generation settings of the samples
    plan_hash: str
    make_settings: Callable[[P.Model, int], Any] = GenerationSettings.for_model
    _shots: Chat | None = None
    stats: dict[str, float] = field(default_factory=lambda: {"score_calls": 0})

    @classmethod
    def from_plan(cls, plan: P.Plan, stage_name: str) -> BestOfN:
        stage = plan.stage(stage_name)
        s: BestOfNSettings = stage.settings
        return cls(stage=stage, respond=find_step(plan.program(stage_name), "respond"),
                   examples=[example_vars(e) for e in select(plan.examples, s.examples)],
                   checks=CheckSet.of(plan, s.checks), model=sampling_model(plan, s),
                   plan_hash=plan.hash or plan.compute_hash())

    @property
    def settings(self) -> BestOfNSettings:
        return self.stage.settings

    def check_sampling(self) -> None:
        """Raise a StageError when the N samples of a prompt could only be the same text."""
        if self.settings.samples > 1 and self.model.temperature == 0:
            raise StageError(
                f"stage `{self.stage.name}` samples {self.settings.samples} replies per prompt "
                f"from `{self.model.id}` at temperature 0, so every sample would be the same "
                "text; set the stage's `temperature` above 0 (e.g. 0.9), or samples = 1")

    def respond_prompt(self, row: PromptRow) -> Chat:
        """The sampling prompt: the system message, the examples as earlier turns, then the
        rendered request (its template may read the prompt's `tags`)."""
        if self._shots is None:
            system = self.settings.system
            self._shots = ([{"role": "system", "content": system}] if system else []) + \
                self.example_turns()
        text = render_step(self.stage.name, self.stage.kind, self.respond,
                           {"prompt": row.prompt, "examples": self.examples,
                            "tags": sorted(row.tags)})
        return [*self._shots, {"role": "user", "content": text}]

    def example_turns(self) -> Chat:
        """Each example as an earlier exchange: its prompt through the respond template (with
        no tags), answered by its best reply — the revision when it has one, else the
        response (in a critique example the response is the reply that needed fixing)."""
        if "examples" in self.respond.variables:  # the template lays them out itself
            return []
        turns: Chat = []
        for ex in self.examples:
            reply = ex.get("revision") or ex.get("response")
            if not ex.get("prompt") or not reply:
                continue
            text = render_step(self.stage.name, self.stage.kind, self.respond,
                               {"prompt": ex["prompt"], "examples": [], "tags": []})
            turns += [{"role": "user", "content": text}, {"role": "assistant", "content": reply}]
        return turns

    def _sample(self, engine: Generator, prompts: list[Chat], k: int, first: int,
                progress: Progress | None) -> list[Generation]:
        seed = call_seed(self.settings.seed, "sample", k, first)
        out = engine.generate_full(prompts, self.make_settings(self.model, seed), progress)
        if len(out) != len(prompts):
            raise RuntimeError(f"the engine returned {len(out)} texts for {len(prompts)} prompts")
        return [Generation(g.text.strip(), g.finish, g.tokens) for g in out]

    def run_chunk(self, engine: Generator, chunk: Sequence[PromptRow], *,
                  count_tokens: Callable[[str], int] | None = None,
                  scorer: Scorer | None = None, progress: Progress | None = None,
                  checkpoint: Path | None = None) -> list[dict[str, Any]]:
        """Sample `samples` replies for every prompt of the chunk (one call per sample round,
        the chunk's state saved after each), then check, rank, keep and pair them."""
        s = self.settings
        indices = [r.index for r in chunk]
        state = load_chunk_state(checkpoint, indices)
        if state is None or not _resumable(state, len(chunk), s.samples):
            state = {"indices": indices, "round": 0, "samples": [[] for _ in chunk]}
        elif progress:
            progress(len(chunk) * state["round"])
        prompts = [self.respond_prompt(r) for r in chunk]
        for k in range(state["round"] + 1, s.samples + 1):
            made = self._sample(engine, prompts, k, chunk[0].index, progress)
            for got, g in zip(state["samples"], made, strict=True):
                got.append({"text": g.text, "finish": g.finish, "tokens": g.tokens})
            state["round"] = k
            save_chunk_state(checkpoint, state)
        rows = [self.judge(row, state["samples"][i], count_tokens)
                for i, row in enumerate(chunk)]
        if scorer is not None:
            self.score(scorer, rows)
        for row in rows:
            order = R.ranked(row["samples"], scorer is not None)
            row["kept"] = R.choose_kept(row["samples"], order, s.keep, scorer is not None)
            row["pairs"] = R.choose_pairs(row["samples"], order, s.pairs_per_prompt,
                                          s.keep_truncated)
        return rows

    def judge(self, row: PromptRow, made: list[dict[str, Any]],
              count_tokens: Callable[[str], int] | None) -> dict[str, Any]:
        """A prompt's row: each sample with the verdict of every check (none for a reply its
        prompt was too long to write) and its drop reason."""
        s = self.settings
        context = ReplyContext(prompt=row.prompt, tags=row.tags, count_tokens=count_tokens)
        unchecked: dict[str, bool | None] = dict.fromkeys(self.checks.ids)
        samples = [R.judged_sample(
            g["text"], g["finish"], g["tokens"], unchecked if g["finish"] == "skipped"
            else self.checks.results(g["text"], context),
            R.sample_drop(g["text"], g["finish"], keep_truncated=s.keep_truncated,
                          drop_meta=s.drop_meta)) for g in made]
        return {"index": row.index, "prompt_id": row.prompt_id, "prompt": row.prompt,
                "tags": sorted(row.tags), "samples": samples, "kept": [], "pairs": [],
                "plan_hash": self.plan_hash}

    def score(self, scorer: Scorer, rows: list[dict[str, Any]]) -> None:
        """The reward model's score of every keepable reply, in one call."""
        todo = [(row, x) for row in rows for x in row["samples"]
                if x["passed"] and x["drop"] is None]
        if not todo:
            return
        scores = scorer([[{"role": "user", "content": row["prompt"]}] for row, _ in todo],
                        [x["text"] for _, x in todo])
        self.stats["score_calls"] += 1
        for (_, x), value in zip(todo, scores, strict=True):
            x["score"] = round(float(value), 6)

    def run(self, engine: Generator, prompts: Sequence[PromptRow], out: BestOfNDir, *,
            count_tokens: Callable[[str], int] | None = None, scorer: Scorer | None = None,
            metrics: MetricsLog | None = None, progress: Progress | None = None,
            on_resume: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Every prompt not yet in samples.jsonl, a chunk at a time; then sft.jsonl and
        preferences.jsonl written from all of samples.jsonl. Returns the metrics."""
        started = time.perf_counter()
        n = self.settings.samples

        def resumed(done: set[int]) -> None:
            if on_resume:
                on_resume(len(done))
            if progress:
                progress(len(done & {p.index for p in prompts}) * n)

        def logged(k: int, rows: list[dict[str, Any]], seconds: float) -> None:
            out.partial.unlink(missing_ok=True)  # the chunk is written: its state is stale
            if metrics:
                metrics.log(event="chunk", chunk=k, prompts=len(rows),
                            passing=sum(x["passed"] for r in rows for x in r["samples"]),
                            kept=sum(len(r["kept"]) for r in rows), seconds=round(seconds, 3))

        rows, before = process_in_chunks(
            out.samples, prompts, self.settings.batch_size,
            lambda todo: self.run_chunk(engine, todo, count_tokens=count_tokens, scorer=scorer,
                                        progress=progress, checkpoint=out.partial),
            on_chunk=logged, on_resume=resumed)
        out.partial.unlink(missing_ok=True)
        name = self.stage.name
        write_sft_rows(R.sft_rows(rows, self.stage.kind), out.sft_data)
        write_sft_rows(R.preference_rows(rows, source=self.stage.kind, stage=name,
                                         plan_hash=self.plan_hash), out.preferences)
        return {**R.summarize(rows, self.checks), "resumed_rows": before,
                "score_calls": self.stats["score_calls"],
                "seconds": round(time.perf_counter() - started, 3)}


def _resumable(state: dict[str, Any], n: int, samples: int) -> bool:
    """Whether a saved chunk state of `n` prompts has the shape run_chunk writes."""
    done, made = state.get("round"), state.get("samples")
    if type(done) is not int or not 0 <= done <= samples or not isinstance(made, list):
        return False
    return len(made) == n and all(
        isinstance(m, list) and len(m) == done and all(
            isinstance(g, dict) and isinstance(g.get("text"), str)
            and isinstance(g.get("finish"), str) and type(g.get("tokens")) is int for g in m)
        for m in made)


class BestOfNRunner(StageRunner):
    """Runs a best_of_n stage: the policy samples, the checks (and `rank_by`) choose."""

    kind = "best_of_n"
    resumes = True

    @staticmethod
    def headline(metrics: dict[str, Any]) -> str:
        return (f"{metrics.get('samples', '-')} samples, {pct(metrics.get('pass_rate'))} "
                f"passed, {metrics.get('sft_rows', '-')} kept, {metrics.get('pairs', '-')} pairs")

    def fingerprint(self) -> dict[str, Any]:
        plan, s = self.ctx.plan, self.ctx.settings
        # a trained policy samples with its base model's settings: they are inputs too
        return {"preferences_format": FORMAT, "sampling": sampling_model(plan, s).model_dump(
            mode="json", exclude={"location"})}

    def load(self) -> None:
        from constlang.runtime.engine import open_engine
        from constlang.runtime.models import load_model
        from constlang.runtime.reply_checks import token_counter

        ctx = self.ctx
        self.job = job = BestOfN.from_plan(ctx.plan, ctx.name)
        job.check_sampling()
        s = job.settings
        self.prompts = read_all_prompts(ctx.plan, s.prompts, ctx.base_dir)
        t0 = time.perf_counter()
        self.engine = open_engine(policy_spec(ctx.plan, s.policy, ctx.run), device=ctx.device,
                                  base_dir=ctx.base_dir, batch_size=s.batch_size,
                                  folder=ctx.folder.path, say=ctx.say)
        self.count_tokens = token_counter(self.engine)
        if self.count_tokens is None and any(c.checker.needs_tokens for c in job.checks.checks):
            raise StageError(f"a length check in tokens needs the tokenizer of `{s.policy}`, "
                             "which is served (its tokens are the server's): count words or "
                             "characters instead")
        self.scorer: Scorer | None = None
        if s.rank_by:
            from constlang.runtime.reward import RewardScorer

            spec = policy_spec(ctx.plan, s.rank_by, ctx.run, "reward model")
            trained_on = getattr(ctx.plan.stage(s.rank_by).settings, "max_length", None)
            reward = RewardScorer(load_model(spec, device=ctx.device, base_dir=ctx.base_dir,
                                             head="reward"),
                                  batch_size=s.batch_size, max_length=trained_on)
            self.scorer = reward.score
        ctx.timings["load_model_s"] = round(time.perf_counter() - t0, 3)

    def preview(self) -> list[tuple[str, Chat]]:
        job = BestOfN.from_plan(self.ctx.plan, self.ctx.name)
        rows = read_all_prompts(self.ctx.plan, job.settings.prompts, self.ctx.base_dir)
        return [(f"{self.ctx.name} · prompt {r.prompt_id} · respond (sampled "
                 f"{job.settings.samples}×)", job.respond_prompt(r))
                for r in rows[:job.settings.batch_size]]

    def run(self) -> dict[str, Any]:
        ctx, job, s = self.ctx, self.job, self.job.settings
        ctx.say(f"{counted(len(self.prompts), 'prompt')} × {counted(s.samples, 'sample')} from "
                f"`{s.policy}`, {counted(len(job.checks.checks), 'check')} on {ctx.device}")
        folder = BestOfNDir.of(ctx.folder)
        saved = saved_chunk(folder.partial)
        if saved is not None:
            ctx.say(f"prompts {saved[0]}–{saved[1]} were interrupted after sample {saved[2]}; "
                    "continuing from there")
        with ctx.progress("sampling", len(self.prompts) * s.samples) as update:
            metrics = job.run(self.engine, self.prompts, folder, count_tokens=self.count_tokens,
                              scorer=self.scorer, metrics=folder.metrics,
                              progress=lambda n: update(advance=n),
                              on_resume=lambda n: ctx.say(
                                  f"{counted(n, 'row')} already done; continuing"))
        metrics["generation"] = dict(self.engine.stats)
        ctx.timings["generate_s"] = metrics["seconds"]
        for line in served_summaries(self.engine):
            ctx.say(line)
        ctx.console.print(R.summary_line(ctx.name, metrics), highlight=False, markup=False)
        return metrics

    def outputs(self) -> str:
        folder = BestOfNDir.of(self.ctx.folder)
        return sha256_json([sha256_file(folder.samples), sha256_file(folder.sft_data),
                            sha256_file(folder.preferences)])
