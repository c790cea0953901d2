"""Critique/revision stage: answer, critique and revise each prompt; write rows and SFT data."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constlang import plan as P
from constlang.errors import StageError
from constlang.kinds.critique_revision import CritiqueRevisionSettings
from constlang.prompts import (
    PLACEHOLDERS,
    Chat,
    example_vars,
    few_shot_turns,
    find_step,
    principle_vars,
    render_step,
)
from constlang.runtime import sft_data as SD
from constlang.runtime.chunk_state import (
    load_chunk_state,
    resumable,
    save_chunk_state,
    saved_chunk,
)
from constlang.runtime.data import PromptRow, read_prompts
from constlang.runtime.engine import Generator, OptionScorer, served_summaries
from constlang.runtime.generate import Generation, GenerationSettings
from constlang.runtime.reply_checks import CHECK_DROP, StageChecks, check_rounds
from constlang.runtime.revision_scores import score_rows
from constlang.runtime.rundir import (
    Artifact,
    MetricsLog,
    StageDir,
    process_in_chunks,
    recover_jsonl,
    sha256_file,
    sha256_json,
)
from constlang.runtime.sampling import PrincipleSampler, call_seed, select
from constlang.runtime.stages.base import StageRunner, pct
from constlang.words import counted

Progress = Callable[[int], None]  # advance the bar by this many finished generations


class CritiqueRevisionDir(StageDir):
    """A critique_revision stage's folder: what it writes, which sft and revision_pairs read."""

    rows = Artifact("rows.jsonl", "Every prompt's answer, critiques and revisions (JSONL).")
    sft_data = Artifact("sft.jsonl", "The conversational SFT rows made of the revisions (JSONL).")
    helpful = Artifact("helpful.jsonl", "The first answers to its helpful prompts (JSONL).")
    partial = Artifact("partial.json", "The state of the chunk in flight (its finished rounds), "
                       "so an interrupted run resumes inside a chunk, not from its start.")


@dataclass
class CritiqueRevision:
    """One critique_revision stage of a plan, resolved: steps, principles, examples, model."""

    stage: Any  # the plan's critique_revision stage
    respond: P.ProgramStep
    critique: P.ProgramStep
    revise: P.ProgramStep
    sampler: PrincipleSampler
    examples: list[dict[str, Any]]
    model: P.Model
    plan_hash: str
    judge_step: P.ProgramStep | None = None  # present when the stage declares a judge
    question: P.Question | None = None  # the judge's pointwise question
    checks: StageChecks | None = None  # the stage's `checks` and its principles' checks
    make_settings: Callable[[P.Model, int], Any] = GenerationSettings.for_model
    _few_shot: dict[str, Chat] = field(default_factory=dict)

    @classmethod
    def from_plan(cls, plan: P.Plan, stage_name: str) -> CritiqueRevision:
        stage = plan.stage(stage_name)
        s: CritiqueRevisionSettings = stage.settings
        program = plan.program(stage_name)
        respond = find_step(program, "respond")
        judge_step = next((st for st in program.steps if st.name == "judge"), None)
        question = None
        if judge_step is not None:
            question = next((q for q in plan.questions if q.id == s.judge_question), None)
            if question is None or question.kind != "pointwise":
                raise StageError(f"stage `{stage_name}` declares judge `{s.judge}`, so it needs "
                                 "`judge_question` naming a pointwise question (with a "
                                 "good_answer), e.g. judge_question = is_safe")
        principles = select(plan.principles, s.principles)
        return cls(
            stage=stage, respond=respond, critique=find_step(program, "critique"),
            revise=find_step(program, "revise"), judge_step=judge_step, question=question,
            sampler=PrincipleSampler(principles, s.sampling, s.seed),
            checks=StageChecks.of(plan, s.checks, [c for p in principles for c in p.checks]),
            examples=[example_vars(e) for e in select(plan.examples, s.examples)],
            model=plan.model(respond.model), plan_hash=plan.hash or plan.compute_hash(),
        )

    @property
    def settings(self) -> CritiqueRevisionSettings:
        return self.stage.settings

    # -- rendering (shared with --dry-run) -------------------------------------------------
    def _turns(self, step: P.ProgramStep, variables: dict[str, Any]) -> Chat:
        """The chat a step sends: few-shot example turns, then the rendered request."""
        if step.name not in self._few_shot:
            self._few_shot[step.name] = few_shot_turns(self.stage.kind, step, self.examples)
        text = render_step(self.stage.name, self.stage.kind, step,
                           {**variables, "examples": self.examples})
        return [*self._few_shot[step.name], {"role": "user", "content": text}]

    def respond_prompt(self, row: PromptRow) -> Chat:
        return self._turns(self.respond, {"prompt": row.prompt})

    def critique_prompt(self, row: PromptRow, response: str, principle: P.Principle,
                        round_: int) -> Chat:
        return self._turns(self.critique, {
            "prompt": row.prompt, "response": response, "principle": principle_vars(principle),
            "round": round_})

    def revision_prompt(self, row: PromptRow, response: str, critique: str,
                        principle: P.Principle, round_: int) -> Chat:
        return self._turns(self.revise, {
            "prompt": row.prompt, "response": response, "critique": critique,
            "principle": principle_vars(principle), "round": round_})

    def preview(self, chunk: Sequence[PromptRow]) -> list[tuple[str, Chat]]:
        """(title, text) of every prompt round 1 sends for the chunk, with placeholders for
        the text the model has not written yet (the --dry-run view)."""
        out = []
        for row in chunk:
            principle = self.sampler.choose(row.index, 1)[0]
            where = f"{self.stage.name} · prompt {row.prompt_id}"
            out += [
                (f"{where} · respond", self.respond_prompt(row)),
                (f"{where} · critique (round 1, principle {principle.id})",
                 self.critique_prompt(row, PLACEHOLDERS["response"], principle, 1)),
                (f"{where} · revise (round 1, principle {principle.id})",
                 self.revision_prompt(row, PLACEHOLDERS["response"], PLACEHOLDERS["critique"],
                                      principle, 1)),
            ]
        return out

    def critique_used(self) -> bool:
        """Whether anything reads the critique: the revision template, or the skip marker
        check. When nothing does (the CAI paper's direct revision), it is not generated."""
        return "critique" in self.revise.variables or self.settings.skip_when_no_critique

    def needs_no_change(self, critique: str) -> bool:
        s = self.settings
        return s.skip_when_no_critique and s.no_critique_marker.casefold() in critique.casefold()

    # -- execution ---------------------------------------------------------------------------
    def _generate(self, engine: Generator, prompts: list[Chat], step: str, round_: int,
                  first_index: int, progress: Progress | None) -> list[Generation]:
        if not prompts:
            return []
        seed = call_seed(self.settings.seed, step, round_, first_index)
        out = engine.generate_full(prompts, self.make_settings(self.model, seed), progress)
        if len(out) != len(prompts):
            raise RuntimeError(f"the engine returned {len(out)} texts for {len(prompts)} prompts")
        return [Generation(g.text.strip(), g.finish, g.tokens) for g in out]

    def run_chunk(self, engine: Generator, chunk: Sequence[PromptRow],
                  progress: Progress | None = None, checkpoint: Path | None = None,
                  judge: OptionScorer | None = None) -> list[dict[str, Any]]:
        """Answer, then critique and revise `revisions` times, every prompt of the chunk.

        With a `checkpoint` path, the chunk's state is saved after the answers and after every
        round, and a saved state for these same prompts is picked up where it stopped.
        """
        first = chunk[0].index
        rounds = self.settings.revisions
        chosen = [self.sampler.choose(row.index, rounds) for row in chunk]
        state = load_chunk_state(checkpoint, [r.index for r in chunk])
        if state is not None and not resumable(state, len(chunk), rounds):
            state = None  # a cache this stage did not write: the chunk starts again
        if state is None:
            initial = self._generate(engine, [self.respond_prompt(r) for r in chunk], "respond",
                                     0, first, progress)
            state = {"indices": [r.index for r in chunk], "round": 0,
                     "initial": [g.__dict__ for g in initial], "history": [[] for _ in chunk],
                     "responses": [g.text for g in initial]}
            save_chunk_state(checkpoint, state)
        elif progress:
            progress(len(chunk) * (1 + 2 * state["round"]))
        responses, history = state["responses"], state["history"]
        # a prompt too long to answer has nothing to critique or revise: its rounds are skipped
        answered = [i for i in range(len(chunk)) if state["initial"][i]["finish"] != "skipped"]
        for k in range(state["round"] + 1, rounds + 1):
            self._round(engine, chunk, k, [c[k - 1] for c in chosen], state, answered, progress)
            state["round"] = k
            save_chunk_state(checkpoint, state)
        initial = state["initial"]
        rows = [{
            "index": row.index, "prompt_id": row.prompt_id, "prompt": row.prompt,
            "initial": initial[i]["text"], "initial_finish": initial[i]["finish"],
            "initial_tokens": initial[i]["tokens"], "rounds": history[i], "final": responses[i],
            "messages": [{"role": "user", "content": row.prompt},
                         {"role": "assistant", "content": responses[i]}],
            "plan_hash": self.plan_hash,
        } for i, row in enumerate(chunk)]
        if self.checks:
            check_rounds(self.checks, rows, [r.tags for r in chunk],
                         {p.id: p.checks for p in self.sampler.principles})
        if judge is not None:
            self.score(judge, rows)
        return rows

    def _round(self, engine: Generator, chunk: Sequence[PromptRow], k: int,
               principles: list[P.Principle], state: dict[str, Any], answered: list[int],
               progress: Progress | None) -> None:
        """Revision round `k` of a chunk: critique each answered prompt's current response
        against its principle, revise where the critique asks for a change, and record the
        round in the chunk's state (responses and history, updated in place)."""
        first = chunk[0].index
        responses, history = state["responses"], state["history"]
        critiques = [Generation("", "skipped", 0)] * len(chunk)
        if self.critique_used():
            made = self._generate(engine, [
                self.critique_prompt(chunk[i], responses[i], principles[i], k)
                for i in answered], "critique", k, first, progress)
            for i, critique in zip(answered, made, strict=True):
                critiques[i] = critique
        if progress and (len(answered) < len(chunk) or not self.critique_used()):
            # direct revision writes no critique; an unanswered prompt gets none either
            progress(len(chunk) - (len(answered) if self.critique_used() else 0))
        todo = [i for i in answered if not self.needs_no_change(critiques[i].text)]
        revisions = self._generate(engine, [
            self.revision_prompt(chunk[i], responses[i], critiques[i].text, principles[i], k)
            for i in todo], "revise", k, first, progress)
        if progress and len(todo) < len(chunk):
            progress(len(chunk) - len(todo))  # skipped revisions count as done
        revised = dict(zip(todo, revisions, strict=True))
        for i in range(len(chunk)):
            new = revised.get(i)
            if new is not None and new.finish != "skipped":  # a prompt too long: no reply
                responses[i] = new.text
            history[i].append({
                "round": k, "principle": principles[i].id, "critique": critiques[i].text,
                "revision": responses[i], "skipped": new is None,
                "critique_finish": critiques[i].finish, "critique_tokens": critiques[i].tokens,
                "revision_finish": new.finish if new else None,
                "revision_tokens": new.tokens if new else None})

    def score(self, judge: OptionScorer, rows: list[dict[str, Any]]) -> None:
        """The judge's probability of its good answer for each row's first answer
        (`initial_score`) and each round's revision (`revision_score`), in one scoring call."""
        step, q = self.judge_step, self.question
        if step is None or q is None:
            raise StageError(f"stage `{self.stage.name}` has no judge step in its program")
        score_rows(judge, rows, stage=self.stage, step=step, question=q, examples=self.examples)

    def generations_per_prompt(self) -> int:
        return 1 + 2 * self.settings.revisions

    def answer_helpful(self, engine: Generator, prompts: Sequence[PromptRow],
                       out: CritiqueRevisionDir,
                       progress: Progress | None = None) -> list[dict[str, Any]]:
        """The model's first answers to the helpful prompts (no critique, no revision), a chunk
        at a time into helpful.jsonl; resumable like the main rows."""
        def chunk_rows(todo: list[PromptRow]) -> list[dict[str, Any]]:
            answers = self._generate(engine, [self.respond_prompt(r) for r in todo], "helpful",
                                     0, todo[0].index, progress)
            return [{"index": r.index, "prompt_id": r.prompt_id, "prompt": r.prompt,
                     "answer": g.text, "finish": g.finish, "tokens": g.tokens,
                     **({"checks": self.checks.verdicts(g.text, r.prompt, r.tags)}
                        if self.checks else {}),
                     "plan_hash": self.plan_hash} for r, g in zip(todo, answers, strict=True)]

        rows, before = process_in_chunks(out.helpful, prompts, self.settings.batch_size,
                                         chunk_rows)
        if progress and before:
            progress(before)
        return rows

    def run(self, engine: Generator, prompts: Sequence[PromptRow], out: CritiqueRevisionDir, *,
            metrics: MetricsLog | None = None, progress: Progress | None = None,
            on_resume: Callable[[int], None] | None = None,
            helpful: Sequence[PromptRow] = (), judge: OptionScorer | None = None) -> dict[str, Any]:
        """Process every prompt not yet in rows.jsonl, a chunk at a time, then answer the
        `helpful` prompts; returns metrics.

        Each chunk's rows are appended in one fsynced write, so a killed run loses at most
        the chunk in flight; a rerun skips the indices already written.
        """
        started = time.perf_counter()

        def resumed(done: set[int]) -> None:
            if on_resume:
                on_resume(len(done))
            if progress:
                progress(len(done & {p.index for p in prompts}) * self.generations_per_prompt())

        def logged(n: int, rows: list[dict[str, Any]], seconds: float) -> None:
            # the chunk's rows are written: its saved state must not claim it is unfinished
            out.partial.unlink(missing_ok=True)
            if metrics:
                skipped = sum(r["skipped"] for row in rows for r in row["rounds"])
                metrics.log(event="chunk", chunk=n, prompts=len(rows), skipped_revisions=skipped,
                            seconds=round(seconds, 3))

        rows, before = process_in_chunks(
            out.rows, prompts, self.settings.batch_size,
            lambda todo: self.run_chunk(engine, todo, progress, out.partial, judge),
            on_chunk=logged,
            on_resume=resumed)
        out.partial.unlink(missing_ok=True)
        answered = self.answer_helpful(engine, helpful, out, progress) if helpful else []
        sft = SD.sft_rows(rows, self.settings, answered)
        SD.write_sft_rows(sft, out.sft_data)
        return SD.summarize(rows, sft, resumed=before, seconds=time.perf_counter() - started,
                            checks=self.checks, answered=answered)


class CritiqueRevisionRunner(StageRunner):
    """Runs a critique_revision stage on the generation engine."""

    kind = "critique_revision"
    resumes = True

    @staticmethod
    def headline(metrics: dict[str, Any]) -> str:
        revisions = metrics["quality"]["revisions"]
        by_checks = metrics.get("sft_dropped", {}).get(CHECK_DROP)
        return (f"{revisions['count']} revisions, EOS {pct(revisions.get('eos_share'))}, "
                f"{metrics.get('sft_rows', '-')} SFT rows kept"
                + (f", {by_checks} dropped by checks" if by_checks else ""))

    def load(self) -> None:
        from constlang.runtime.engine import open_engine

        ctx = self.ctx
        self.job = CritiqueRevision.from_plan(ctx.plan, ctx.name)
        s = self.job.settings
        self.prompts = read_prompts(ctx.plan.dataset(s.prompts), ctx.base_dir)
        self.helpful = (read_prompts(ctx.plan.dataset(s.helpful_prompts), ctx.base_dir)
                        if s.helpful_prompts else [])
        t0 = time.perf_counter()
        # a model that only generates may run in bfloat16 on a CPU that has it; one that also
        # judges keeps float32, whose small score differences are the judge's signal
        common: dict[str, Any] = {"device": ctx.device, "base_dir": ctx.base_dir,
                                  "batch_size": s.batch_size, "folder": ctx.folder.path,
                                  "say": ctx.say}
        self.engine = open_engine(self.job.model, use="train" if s.judge == s.model else
                                  "generate", **common)
        ctx.timings["load_model_s"] = round(time.perf_counter() - t0, 3)
        if self.job.checks:
            self.job.checks.use_tokenizer_of(self.engine)
        self.judge = None
        if s.judge:
            self.judge = self.engine if s.judge == s.model else open_engine(
                ctx.plan.model(s.judge), use="train", **common)
            ctx.timings["load_model_s"] = round(time.perf_counter() - t0, 3)

    def preview(self) -> list[tuple[str, Chat]]:
        job = CritiqueRevision.from_plan(self.ctx.plan, self.ctx.name)
        dataset = self.ctx.plan.dataset(job.settings.prompts)
        return job.preview(read_prompts(dataset, self.ctx.base_dir,
                                        limit=job.settings.batch_size))

    def run(self) -> dict[str, Any]:
        ctx, job = self.ctx, self.job
        rounds = counted(job.settings.revisions, 'round')
        ctx.say(f"{counted(len(self.prompts), 'prompt')} × {rounds}, model `{job.model.id}` on "
                f"{ctx.device}")
        total = len(self.prompts) * job.generations_per_prompt() + len(self.helpful)
        folder = CritiqueRevisionDir.of(ctx.folder)
        saved = saved_chunk(folder.partial)
        if saved is not None:
            ctx.say(f"prompts {saved[0]}–{saved[1]} were interrupted after round {saved[2]}; "
                    "continuing from there")
        with ctx.progress("generating", total) as update:
            metrics = job.run(self.engine, self.prompts, folder, metrics=folder.metrics,
                              helpful=self.helpful, judge=self.judge,
                              progress=lambda n: update(advance=n),
                              on_resume=lambda n: ctx.say(
                                  f"{counted(n, 'row')} already done; continuing"))
        metrics["generation"] = dict(self.engine.stats)
        if self.judge is not None and self.judge is not self.engine:
            metrics["judging"] = dict(self.judge.stats)
        for line in served_summaries(self.engine, self.judge):
            ctx.say(line)
        ctx.timings["generate_s"] = metrics["seconds"]
        SD.show_changes(ctx.console, recover_jsonl(folder.rows))
        ctx.console.print(SD.quality_line(ctx.name, metrics), highlight=False, markup=False)
        return metrics

    def outputs(self) -> str:
        folder = CritiqueRevisionDir.of(self.ctx.folder)
        return sha256_json([sha256_file(folder.rows), sha256_file(folder.sft_data)])
