"""Evaluation, the work: which models, their replies to held-out prompts, the judge's verdicts."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constlang import plan as P
from constlang.checks.apply import CheckSet
from constlang.declarations import names
from constlang.errors import UserError, suggest_then_list
from constlang.kinds import POLICY_KINDS
from constlang.kinds.evaluate import EvaluateSettings
from constlang.prompts import Chat, find_step, question_vars, render_step
from constlang.runtime.data import PromptRow, read_prompts
from constlang.runtime.engine import Engine
from constlang.runtime.evaluation.check_rates import token_counter, verdicts
from constlang.runtime.evaluation.refusals import classify
from constlang.runtime.evaluation.winrates import prompt_preference, question_preference
from constlang.runtime.rundir import RunDir
from constlang.runtime.sampling import call_seed, select


class EvaluationError(UserError):
    """An evaluation cannot run as configured (an unknown model, a stage not run yet)."""


def default_models(plan: P.Plan, stage_name: str) -> list[str]:
    """Every stage of a policy kind that comes before this stage in the plan."""
    order = [s.name for s in plan.stages]
    before = order[:order.index(stage_name)] if stage_name in order else order
    return [s.name for s in plan.stages if s.kind in POLICY_KINDS and s.name in before]


def model_names(plan: P.Plan, stage: Any) -> list[str]:
    """The models an evaluate stage compares: its baseline first, then the others."""
    s = stage.settings
    others = default_models(plan, stage.name) if s.models is None else names(s.models)
    return [s.baseline, *(n for n in others if n != s.baseline)]


def resolve_model(plan: P.Plan, name: str, run: RunDir) -> P.Model:
    """The loadable declaration of a model name: a model, or a policy stage's saved model.
    Raises EvaluationError, one line, for an unknown name or a stage that saved no model yet."""
    if any(m.id == name for m in plan.models):
        return plan.model(name)
    stage = next((s for s in plan.stages if s.name == name), None)
    if stage is None or stage.kind not in POLICY_KINDS:
        known = [m.id for m in plan.models] + [s.name for s in plan.stages
                                               if s.kind in POLICY_KINDS]
        listed = "name a model declaration or a policy stage"
        if stage is not None:
            raise EvaluationError(f"model `{name}` is a {stage.kind} stage, not a policy; "
                                  f"{listed}: {', '.join(known) or 'none'}")
        raise EvaluationError(suggest_then_list(f"model `{name}` is unknown", name, known, listed))
    base = plan.base_model(name)
    folder = run.stage(name).model
    done = run.stage(name).read_manifest()
    if base is None or not folder.is_dir() or done is None or done.status != "completed":
        raise EvaluationError(f"stage `{name}` has no trained model in {folder} yet; run it first "
                         f"(constlang train ... --stages {name})")
    return base.model_copy(update={"id": name, "source": str(folder.resolve()),
                                   "gguf_file": None})


@dataclass
class Evaluation:
    """One evaluate stage of a plan, resolved: steps, questions, prompt sets, models."""

    stage: Any
    respond: P.ProgramStep
    compare: P.ProgramStep | None
    pointwise: P.ProgramStep | None
    harmless_questions: list[P.Question]
    helpful_questions: list[P.Question]
    judge_model: P.Model
    sets: dict[str, list[PromptRow]]
    checks: CheckSet = field(default_factory=lambda: CheckSet([]))  # run on every reply
    stats: dict[str, float] = field(default_factory=lambda: {
        "generate_seconds": 0.0, "judge_seconds": 0.0, "judge_prompts": 0})

    @classmethod
    def from_plan(cls, plan: P.Plan, stage_name: str, base_dir: Path) -> Evaluation:
        stage = plan.stage(stage_name)
        s = stage.settings
        program = plan.program(stage_name)
        steps = {step.name: step for step in program.steps}
        asked = [q for q in select(plan.questions, s.questions) if q.weight > 0]
        stray = [n for n in s.helpful_questions if n not in s.questions]
        if stray:
            raise EvaluationError(f"stage `{stage_name}`: helpful_questions names "
                             f"{', '.join(f'`{n}`' for n in stray)}, which `questions` does "
                             "not select; add them there")
        helpful = [q for q in asked if q.id in s.helpful_questions] or asked
        harmless = [q for q in asked if q.id not in s.helpful_questions] or asked
        sets = {"harmful": read_prompts(plan.dataset(s.harmful), base_dir)}
        if s.benign:
            sets["benign"] = read_prompts(plan.dataset(s.benign), base_dir)
        return cls(stage=stage, respond=find_step(program, "respond"),
                   compare=steps.get("compare"), pointwise=steps.get("pointwise"),
                   harmless_questions=harmless, helpful_questions=helpful,
                   judge_model=plan.model(s.judge), sets=sets,
                   checks=CheckSet.of(plan, s.checks))

    @property
    def settings(self) -> EvaluateSettings:
        return self.stage.settings

    def questions_for(self, set_name: str) -> list[P.Question]:
        return self.harmless_questions if set_name == "harmful" else self.helpful_questions

    # -- prompts (the same rendering path as every stage) -----------------------------------
    def _render(self, step: P.ProgramStep | None, variables: dict[str, Any]) -> Chat:
        if step is None:
            raise EvaluationError(f"stage `{self.stage.name}`: the plan's program has no step for "
                             "this question kind")
        text = render_step(self.stage.name, self.stage.kind, step, {**variables, "examples": []})
        return [{"role": "user", "content": text}]

    def respond_prompt(self, row: PromptRow) -> Chat:
        return self._render(self.respond, {"prompt": row.prompt})

    def compare_prompt(self, row: PromptRow, first: str, second: str, q: P.Question,
                       rationale: str | None = None) -> Chat:
        """The pairwise question with `first` as (A) and `second` as (B); no rationale."""
        return self._render(self.compare, {"prompt": row.prompt, "response_a": first,
                                           "response_b": second, "question": question_vars(q)})

    def pointwise_prompt(self, row: PromptRow, response: str, q: P.Question) -> Chat:
        return self._render(self.pointwise, {"prompt": row.prompt, "response": response,
                                             "question": question_vars(q)})

    # -- replies ------------------------------------------------------------------------------
    def generation_settings(self, model: P.Model, set_name: str) -> Any:
        """The stage's decoding (length, temperature) with the model's other declared ones."""
        from constlang.runtime.generate import GenerationSettings

        s = self.settings
        return GenerationSettings(
            max_new_tokens=s.max_new_tokens, temperature=s.temperature, top_p=model.top_p,
            seed=call_seed(s.seed, f"evaluate-{set_name}", 1, 0),
            repetition_penalty=model.repetition_penalty, overflow=model.overflow,
            context_length=model.context_length)

    def replies(self, engine: Engine, name: str, model: P.Model, set_name: str,
                rows: Sequence[PromptRow]) -> list[dict[str, Any]]:
        """One reply per prompt from one model, each with the refusal detector's verdict and,
        with checks, each check's (`checks`: null where it does not apply)."""
        t0 = time.perf_counter()
        out = engine.generate_full([self.respond_prompt(r) for r in rows],
                                   self.generation_settings(model, set_name))
        self.stats["generate_seconds"] += time.perf_counter() - t0
        if len(out) != len(rows):
            raise RuntimeError(f"the engine returned {len(out)} texts for {len(rows)} prompts")
        count = token_counter(engine) if self.checks else None
        return [{"model": name, "set": set_name, "index": r.index, "prompt_id": r.prompt_id,
                 "prompt": r.prompt, "reply": g.text.strip(), "finish": g.finish,
                 "tokens": g.tokens, "verdict": classify(g.text),
                 **({"checks": verdicts(self.checks, r, set_name, g.text.strip(), count)}
                    if self.checks else {})}
                for r, g in zip(rows, out, strict=True)]

    # -- judging ------------------------------------------------------------------------------
    def judge(self, judge: Engine, set_name: str, candidate: Sequence[dict[str, Any]],
              baseline: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """P(candidate better) for each prompt of a set, asked with the set's questions in both
        orders; identical replies are a tie (0.5) without asking."""
        questions = self.questions_for(set_name)
        rows = {r.index: r for r in self.sets[set_name]}
        jobs: list[tuple[int, P.Question, Chat, Chat]] = []
        for cand, base in zip(candidate, baseline, strict=True):
            if cand["reply"] == base["reply"]:
                continue
            row = rows[cand["index"]]
            for q in questions:
                if q.kind == "pointwise":
                    jobs.append((cand["index"], q, self.pointwise_prompt(row, cand["reply"], q),
                                 self.pointwise_prompt(row, base["reply"], q)))
                else:
                    jobs.append((cand["index"], q,
                                 self.compare_prompt(row, cand["reply"], base["reply"], q),
                                 self.compare_prompt(row, base["reply"], cand["reply"], q)))
        scored = self._score(judge, jobs)
        per_prompt: dict[int, dict[str, float]] = {}
        for (index, q, _, _), (first, second) in zip(jobs, scored, strict=True):
            per_prompt.setdefault(index, {})[q.id] = question_preference(q, first, second)
        out = []
        for cand in candidate:
            verdicts = per_prompt.get(cand["index"])
            p = 0.5 if not verdicts else prompt_preference(
                [verdicts[q.id] for q in questions], questions)
            out.append({"index": cand["index"], "p_better": p, "questions": verdicts or {}})
        return out

    def _score(self, judge: Engine, jobs: list[tuple[int, P.Question, Chat, Chat]]
               ) -> list[tuple[list[float], list[float]]]:
        """Both prompts of every job scored: one score_options call per distinct option list."""
        groups: dict[tuple[str, ...], list[int]] = {}
        for n, (_, q, _, _) in enumerate(jobs):
            groups.setdefault(tuple(q.options), []).append(n)
        out: dict[int, tuple[list[float], list[float]]] = {}
        jm = self.judge_model
        for options, members in groups.items():
            chats = [chat for n in members for chat in (jobs[n][2], jobs[n][3])]
            t0 = time.perf_counter()
            scores = judge.score_options(chats, list(options), overflow=jm.overflow,
                                         context_length=jm.context_length)
            self.stats["judge_seconds"] += time.perf_counter() - t0
            self.stats["judge_prompts"] += len(chats)
            for k, n in enumerate(members):
                out[n] = ([float(x) for x in scores[2 * k]], [float(x) for x in scores[2 * k + 1]])
        return [out[n] for n in range(len(jobs))]
