"""AI-feedback stage: sample two responses per prompt, let a judge score them, write preferences."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from constlang import plan as P
from constlang.errors import StageError
from constlang.kinds.feedback import FeedbackSettings
from constlang.prompts import (
    PLACEHOLDERS,
    Chat,
    example_vars,
    find_step,
    judge_turns,
    question_vars,
    render_step,
)
from constlang.runtime import judge_check
from constlang.runtime import preferences as pref
from constlang.runtime.data import PromptRow, read_prompts
from constlang.runtime.engine import Engine, served_summaries
from constlang.runtime.feedback_rows import pair_row
from constlang.runtime.generate import Generation, GenerationSettings
from constlang.runtime.preference_rows import (
    FORMAT,
    PreferencesDir,
    label_points,
    labels_figure,
    summarize,
    summary_line,
)
from constlang.runtime.reply_checks import StageChecks, pair_line, pair_summary
from constlang.runtime.rundir import (
    MetricsLog,
    process_in_chunks,
    sha256_file,
)
from constlang.runtime.sampling import QuestionSampler, call_seed, select
from constlang.runtime.stages.base import Plot, StageRunner, pct, policy_spec
from constlang.words import counted

RATIONALE_PLACEHOLDER = "<the judge's rationale>"
ORDERS = ("ab", "ba")  # response A in the first slot, then in the second
COT_CLAMP = (0.4, 0.6)  # the CAI paper's bounds for chain-of-thought probabilities


class FeedbackError(StageError):
    """The stage cannot produce preference pairs as configured; the message says why."""


def _base_model(plan: P.Plan, policy: str) -> P.Model:
    model = plan.base_model(policy)
    if model is None:
        raise FeedbackError(f"policy `{policy}` names no model to sample from")
    return model


@dataclass
class Job:
    """One scoring prompt: pair `i`, question `q`, order or response `order`, options."""

    i: int
    q: P.Question
    order: str
    chat: Chat
    rationale: str | None = None
    logprobs: list[float] = field(default_factory=list)


@dataclass
class Feedback:
    """One feedback stage of a plan, resolved: steps, questions, examples, models."""

    stage: Any  # the plan's feedback stage
    respond: P.ProgramStep
    rationale: P.ProgramStep | None
    compare: P.ProgramStep | None
    pointwise: P.ProgramStep | None
    sampler: QuestionSampler
    examples: list[dict[str, Any]]
    policy_model: P.Model  # generation settings of the two samples
    judge_model: P.Model
    plan_hash: str
    checks: StageChecks | None = None  # the stage's `checks` and its questions' checks
    make_settings: Callable[[P.Model, int], Any] = GenerationSettings.for_model
    _shots: dict[tuple[str, str], Chat] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=lambda: {
        "policy_calls": 0, "policy_seconds": 0.0, "judge_calls": 0, "judge_seconds": 0.0})

    @classmethod
    def from_plan(cls, plan: P.Plan, stage_name: str) -> Feedback:
        stage = plan.stage(stage_name)
        s: FeedbackSettings = stage.settings
        program = plan.program(stage_name)
        steps = {step.name: step for step in program.steps}
        questions = select(plan.questions, s.questions)
        return cls(
            stage=stage, respond=find_step(program, "respond"), rationale=steps.get("rationale"),
            compare=steps.get("compare"), pointwise=steps.get("pointwise"),
            sampler=QuestionSampler(questions, s.question_sampling, s.seed),
            checks=StageChecks.of(plan, s.checks, [c for q in questions for c in q.checks]),
            examples=[example_vars(e) for e in select(plan.examples, s.examples)],
            policy_model=_base_model(plan, s.policy), judge_model=plan.model(s.judge),
            plan_hash=plan.hash or plan.compute_hash(),
        )

    @property
    def settings(self) -> FeedbackSettings:
        return self.stage.settings

    def check_sampling(self) -> None:
        """Raise FeedbackError when the two samples of a pair could only be the same text."""
        if self.policy_model.temperature == 0:
            raise FeedbackError(
                f"the policy samples its response pairs from `{self.policy_model.id}` at "
                "temperature 0, so both replies of every pair would be the same (lint CL406); "
                "give that model a temperature above 0, e.g. 0.7")

    # -- rendering (shared with --dry-run) -------------------------------------------------
    def _render(self, step: P.ProgramStep | None, variables: dict[str, Any]) -> Chat:
        if step is None:
            raise FeedbackError(f"stage `{self.stage.name}`: the plan's program has no step for "
                                "this question kind")
        text = render_step(self.stage.name, self.stage.kind, step,
                           {**variables, "examples": self.examples})
        return [{"role": "user", "content": text}]

    def respond_prompt(self, row: PromptRow) -> Chat:
        return self._render(self.respond, {"prompt": row.prompt})

    def rationale_prompt(self, row: PromptRow, first: str, second: str, q: P.Question) -> Chat:
        return self._render(self.rationale, {"prompt": row.prompt, "response_a": first,
                                             "response_b": second, "question": question_vars(q)})

    def compare_prompt(self, row: PromptRow, first: str, second: str, q: P.Question,
                       rationale: str | None) -> Chat:
        """The compare question; after a rationale, the third turn of one conversation (the
        rationale prompt, the judge's rationale as its own reply, then the question)."""
        ask = self._render(self.compare, {
            "prompt": row.prompt, "response_a": first, "response_b": second,
            "question": question_vars(q), "rationale": rationale or ""})
        if rationale is None:
            return [*self.shots(self.compare, q), *ask]
        return [*self.rationale_prompt(row, first, second, q),
                {"role": "assistant", "content": rationale}, *ask]

    @property
    def clamp(self) -> list[float] | tuple[float, float] | None:
        """The declared clamp; with chain of thought and none declared, COT_CLAMP."""
        s = self.settings
        if s.clamp is None and s.chain_of_thought:
            return COT_CLAMP
        return s.clamp

    def pointwise_prompt(self, row: PromptRow, response: str, q: P.Question) -> Chat:
        return [*self.shots(self.pointwise, q), *self._render(self.pointwise, {
            "prompt": row.prompt, "response": response, "question": question_vars(q)})]

    def shots(self, step: P.ProgramStep | None, q: P.Question) -> Chat:
        """The judge's few-shot turns for a question (examples with a `worse` reply); none
        after a rationale, where an answer without reasoning would be the wrong lesson."""
        if step is None:
            return []
        key = (step.name, q.id)
        if key not in self._shots:
            self._shots[key] = judge_turns(step, self.examples, question_vars(q))
        return self._shots[key]

    def preview(self, chunk: Sequence[PromptRow]) -> list[tuple[str, Chat]]:
        """(title, chat) of the prompts sent for each prompt of the chunk, order A/B, with
        placeholders for the text no model has written yet (the --dry-run view)."""
        a, b = PLACEHOLDERS["response_a"], PLACEHOLDERS["response_b"]
        swapped = " (also scored swapped)" if self.settings.swap_positions else ""
        out: list[tuple[str, Chat]] = []
        for row in chunk:
            where = f"{self.stage.name} · prompt {row.prompt_id}"
            out.append((f"{where} · respond (sampled twice)", self.respond_prompt(row)))
            for q in self.sampler.choose(row.index):
                if q.kind == "pointwise":
                    out.append((f"{where} · pointwise (question {q.id}, once per reply)",
                                self.pointwise_prompt(row, a, q)))
                    continue
                rationale = None
                if self.settings.chain_of_thought:
                    out.append((f"{where} · rationale (question {q.id})",
                                self.rationale_prompt(row, a, b, q)))
                    rationale = RATIONALE_PLACEHOLDER
                out.append((f"{where} · compare (question {q.id}){swapped}",
                            self.compare_prompt(row, a, b, q, rationale)))
        return out

    # -- execution ---------------------------------------------------------------------------
    def _timed(self, who: str, call: Callable[..., Any], *args: Any) -> Any:
        t0 = time.perf_counter()
        out = call(*args)
        self.stats[f"{who}_calls"] += 1
        self.stats[f"{who}_seconds"] += time.perf_counter() - t0
        return out

    def _generate(self, engine: Engine, who: str, model: P.Model, prompts: list[Chat],
                  step: str, round_: int, first_index: int) -> list[Generation]:
        if not prompts:
            return []
        settings = self.make_settings(model, call_seed(self.settings.seed, step, round_,
                                                       first_index))
        out = self._timed(who, engine.generate_full, prompts, settings)
        if len(out) != len(prompts):
            raise RuntimeError(f"the engine returned {len(out)} texts for {len(prompts)} prompts")
        return [Generation(g.text.strip(), g.finish, g.tokens) for g in out]

    def _score(self, judge: Engine, jobs: list[Job]) -> None:
        """Fill each job's log-probabilities: one score_options call per distinct option pair."""
        groups: dict[tuple[str, ...], list[Job]] = {}
        for job in jobs:
            groups.setdefault(tuple(job.q.options), []).append(job)
        jm = self.judge_model  # a judge prompt too long for the context follows its policy

        def score(chats: list[Chat], opts: list[str]) -> list[list[float]]:
            return judge.score_options(chats, opts, overflow=jm.overflow,
                                       context_length=jm.context_length)

        for options, group in groups.items():
            scores = self._timed("judge", score, [j.chat for j in group], list(options))
            if len(scores) != len(group):
                raise RuntimeError(f"the engine scored {len(scores)} of {len(group)} prompts")
            for job, logprobs in zip(group, scores, strict=True):
                job.logprobs = [float(x) for x in logprobs]

    def run_chunk(self, policy: Engine, judge: Engine,
                  chunk: Sequence[PromptRow]) -> list[dict[str, Any]]:
        """Sample two replies per prompt, then score every chosen question on the pair."""
        s = self.settings
        first = chunk[0].index
        respond = [self.respond_prompt(r) for r in chunk]
        sample_a = self._generate(policy, "policy", self.policy_model, respond, "respond", 1,
                                  first)
        sample_b = self._generate(policy, "policy", self.policy_model, respond, "respond", 2,
                                  first)
        a, b = [g.text for g in sample_a], [g.text for g in sample_b]
        questions = [self.sampler.choose(r.index) for r in chunk]
        orders = ORDERS if s.swap_positions else ORDERS[:1]
        pairwise: list[Job] = []
        for n, order in enumerate(orders):
            todo = [(i, q) for i in range(len(chunk)) for q in questions[i]
                    if q.kind == "pairwise"]
            slots = [(a[i], b[i]) if order == "ab" else (b[i], a[i]) for i, _ in todo]
            rationales: list[str | None] = [None] * len(todo)
            if s.chain_of_thought:
                thinking = self.judge_model.model_copy(
                    update={"temperature": s.rationale_temperature})
                rationales = [g.text for g in self._generate(judge, "judge", thinking, [
                    self.rationale_prompt(chunk[i], x, y, q)
                    for (i, q), (x, y) in zip(todo, slots, strict=True)],
                    "rationale", n + 1, first)]
            pairwise += [Job(i, q, order, self.compare_prompt(chunk[i], x, y, q, r), r)
                         for (i, q), (x, y), r in zip(todo, slots, rationales, strict=True)]
        pointwise = [Job(i, q, side, self.pointwise_prompt(chunk[i], text, q))
                     for i in range(len(chunk)) for q in questions[i] if q.kind == "pointwise"
                     for side, text in (("a", a[i]), ("b", b[i]))]
        self._score(judge, pairwise + pointwise)
        by_pair: dict[tuple[int, str], list[Job]] = {}
        for job in pairwise + pointwise:
            by_pair.setdefault((job.i, job.q.id), []).append(job)
        return [pair_row(self, row, respond[i], (sample_a[i], sample_b[i]), questions[i],
                         [pref.verdict(q, by_pair[(i, q.id)], self.clamp) for q in questions[i]])
                for i, row in enumerate(chunk)]

    def run(self, policy: Engine, judge: Engine, prompts: Sequence[PromptRow], out: PreferencesDir,
            *, metrics: MetricsLog | None = None, progress: Callable[[int], None] | None = None,
            on_resume: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Judge every prompt not yet in preferences.jsonl, a chunk at a time; returns metrics.

        Each chunk's rows are appended in one fsynced write, so a killed run loses at most the
        chunk in flight; a rerun cuts a partial last line and skips the indices written.
        """
        started = time.perf_counter()

        def resumed(done: set[int]) -> None:
            if on_resume:
                on_resume(len(done))
            if progress:
                progress(len(done & {p.index for p in prompts}))

        def logged(n: int, rows: list[dict[str, Any]], seconds: float) -> None:
            if metrics:
                metrics.log(event="chunk", chunk=n, **summarize(rows), seconds=round(seconds, 3))
            if progress:
                progress(len(rows))

        rows, before = process_in_chunks(
            out.preferences, prompts, self.settings.batch_size,
            lambda todo: self.run_chunk(policy, judge, todo), on_chunk=logged, on_resume=resumed)
        return {**summarize(rows), "resumed_rows": before,
                **({"checks": pair_summary(self.checks, rows)} if self.checks else {}),
                **{k: round(v, 3) for k, v in self.stats.items()},
                "seconds": round(time.perf_counter() - started, 3)}


class FeedbackRunner(StageRunner):
    """Runs a feedback stage: the policy samples pairs, the judge scores them."""

    kind = "feedback"
    resumes = True
    plots = (Plot("labels", label_points, labels_figure),)

    @staticmethod
    def headline(metrics: dict[str, Any]) -> str:
        checks = metrics.get("checks")
        return (f"{metrics.get('kept_pairs', '-')} of {metrics.get('pairs', '-')} pairs kept, "
                f"position-consistent {pct(metrics.get('position_consistency'))}"
                + (f", {pair_line(checks)}" if checks else ""))

    def fingerprint(self) -> dict[str, Any]:
        plan, s = self.ctx.plan, self.ctx.settings
        out: dict[str, Any] = {"preferences_format": FORMAT}
        if any(m.id == s.policy for m in plan.models):
            return out
        # a trained policy is sampled with its base model's settings: they are inputs too
        return {**out, "policy_generation": _base_model(plan, s.policy).model_dump(
            mode="json", exclude={"location"})}

    def load(self) -> None:
        from constlang.runtime.engine import open_engine

        ctx = self.ctx
        self.job = job = Feedback.from_plan(ctx.plan, ctx.name)
        job.check_sampling()
        s = job.settings
        self.prompts = read_prompts(ctx.plan.dataset(s.prompts), ctx.base_dir)
        policy = policy_spec(ctx.plan, s.policy, ctx.run)
        t0 = time.perf_counter()
        common: dict[str, Any] = {"device": ctx.device, "base_dir": ctx.base_dir,
                                  "batch_size": s.batch_size, "folder": ctx.folder.path,
                                  "say": ctx.say}
        self.policy = open_engine(policy, use="train" if s.judge == s.policy else "generate",
                                  **common)  # see resolve_dtype
        if job.checks:  # a length in tokens counts the tokens of the model that wrote the reply
            job.checks.use_tokenizer_of(self.policy)
        self.judge = self.policy if s.judge == s.policy else open_engine(
            job.judge_model, use="train", **common)
        ctx.timings["load_model_s"] = round(time.perf_counter() - t0, 3)
        # with min_judge_accuracy: measure the judge on labelled pairs before sampling anything
        self.judge_report = judge_check.gate(job, self.judge, ctx.plan, ctx.base_dir)
        if self.judge_report is not None:
            ctx.say(f"judge check passed: {len(self.judge_report['questions'])} question(s) at "
                    f"accuracy >= {s.min_judge_accuracy} on {self.judge_report['pairs']} pairs")

    def preview(self) -> list[tuple[str, Chat]]:
        job = Feedback.from_plan(self.ctx.plan, self.ctx.name)
        dataset = self.ctx.plan.dataset(job.settings.prompts)
        return job.preview(read_prompts(dataset, self.ctx.base_dir,
                                        limit=job.settings.batch_size))

    def run(self) -> dict[str, Any]:
        ctx, s = self.ctx, self.job.settings
        ctx.say(f"{len(self.prompts)} prompts × 2 samples from `{s.policy}`, judge `{s.judge}` "
                f"on {ctx.device}")
        with ctx.progress("judging", len(self.prompts)) as update:
            metrics = self.job.run(
                self.policy, self.judge, self.prompts, PreferencesDir.of(ctx.folder),
                metrics=ctx.folder.metrics,
                progress=lambda n: update(advance=n),
                on_resume=lambda n: ctx.say(f"{counted(n, 'row')} already done; continuing"))
        metrics["generation"] = {"policy": dict(self.policy.stats),
                                 "judge": dict(self.judge.stats)}
        for line in served_summaries(self.policy, self.judge):
            ctx.say(line)
        if self.judge_report is not None:
            metrics["judge_check"] = judge_check.manifest_metrics(self.judge_report)
        ctx.timings["feedback_s"] = metrics["seconds"]
        ctx.console.print(summary_line(ctx.name, metrics) + (
            f"; {pair_line(metrics['checks'])}" if "checks" in metrics else ""),
            highlight=False, markup=False)
        return metrics

    def outputs(self) -> str:
        return sha256_file(PreferencesDir.of(self.ctx.folder).preferences)

