"""Evaluate stage: every model answers held-out prompts; refusals, judged win rates, a report."""

from __future__ import annotations

import gc
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from constlang.errors import StageError
from constlang.files import atomic_write_text
from constlang.runtime.engine import served_summaries
from constlang.runtime.evaluation import plots
from constlang.runtime.evaluation import report as RP
from constlang.runtime.evaluation.figures import EvaluateMetrics, Report
from constlang.runtime.evaluation.job import Evaluation, model_names, resolve_model
from constlang.runtime.rundir import Artifact, StageDir, append_jsonl, recover_jsonl, sha256_file
from constlang.runtime.stages.base import Plot, StageRunner, pct, runner_for
from constlang.words import counted

if TYPE_CHECKING:
    from constlang.runtime.models import Use


class EvaluateDir(StageDir):
    """An evaluate stage's folder: the replies, the verdicts, and the report."""

    replies = Artifact("replies.jsonl", "Every model's reply to every held-out prompt, with its "
                       "verdict (JSONL).")
    judgements = Artifact("judgements.jsonl", "The judge's P(candidate better) per prompt and "
                          "question (JSONL).")
    report_json = Artifact("report.json", "The figures of every model (JSON).")
    report_md = Artifact("report.md", "The report for people: tables, plots, sample replies "
                         "(Markdown).")
    frontier = Artifact("frontier.png", "Each model's harmlessness and helpfulness win rates.")
    checks_plot = Artifact("checks.png", "Each check's pass rate per model, with its 95 % "
                           "interval (with `checks` only).")


def figures_of(kind: str) -> tuple[Plot, ...]:
    """The figures the report draws from a stage of this kind, as its runner declares them."""
    runner = runner_for(kind)
    return runner.plots if runner else ()


class EvaluateRunner(StageRunner):
    """Runs an evaluate stage; replies already written are kept when a run resumes."""

    kind = "evaluate"
    resumes = True

    @staticmethod
    def headline(metrics: dict[str, Any]) -> str:
        """Each model's refusal rates and, with checks, its mean pass rate over the checks; a
        ValidationError (a ValueError) for metrics of another shape, which the summary answers
        with their first numbers."""
        figures = EvaluateMetrics.model_validate(metrics)
        line = "refuses harmful / benign: " + ", ".join(
            f"{name} {pct(m.harmful_refusal_rate)} / {pct(m.benign_refusal_rate)}"
            for name, m in figures.models.items())
        if not figures.checks:
            return line
        return line + f"; {counted(len(figures.checks), 'check')} passed on average: " + ", ".join(
            f"{name} {pct(mean_rate(figures.checks, name))}" for name in figures.models)

    def reads(self) -> list[str]:
        """The stages of the models compared and of the figures, which `depends_on` does not
        cover for a default list of models."""
        ctx = self.ctx
        names = model_names(ctx.plan, ctx.stage)
        return [s.name for s in ctx.plan.stages if s.name in names or figures_of(s.kind)]

    def fingerprint(self) -> dict[str, Any]:
        """The models compared (a default list follows the plan) and the outputs of the stages
        they and the plots read."""
        ctx = self.ctx
        names = model_names(ctx.plan, ctx.stage)
        outputs = {}
        for name in self.reads():
            done = ctx.run.stage(name).read_manifest()
            outputs[name] = done.outputs_hash if done and done.status == "completed" else None
        return {"models": names, "upstream": outputs}

    def preview(self) -> list[tuple[str, Any]]:
        """The reply prompts of the first batch of each prompt set."""
        ctx = self.ctx
        job = Evaluation.from_plan(ctx.plan, ctx.name, ctx.base_dir)
        size = job.settings.batch_size
        return [(f"{ctx.name} · {set_name} · prompt {row.prompt_id} · respond (every model)",
                 job.respond_prompt(row)) for set_name, rows in job.sets.items()
                for row in rows[:size]]

    def load(self) -> None:
        ctx = self.ctx
        self.job = Evaluation.from_plan(ctx.plan, ctx.name, ctx.base_dir)
        self.names = model_names(ctx.plan, ctx.stage)
        self.specs = {n: resolve_model(ctx.plan, n, ctx.run) for n in self.names}
        s = self.job.settings
        self.pairs = None
        if s.judge_check:
            from constlang.runtime.judge_check import read_dataset_pairs

            self.pairs = read_dataset_pairs(ctx.plan.dataset(s.judge_check), ctx.base_dir)
        if s.reward:
            resolve_reward(ctx.plan, s.reward, ctx.run)
        self.figures = figures(ctx)
        self.served: dict[str, Any] = {}

    def run(self) -> dict[str, Any]:
        ctx, job, s = self.ctx, self.job, self.job.settings
        sizes = ", ".join(f"{len(rows)} {name}" for name, rows in job.sets.items())
        judge = f", judge `{s.judge}`" if len(self.names) > 1 else ""
        ctx.say(f"{counted(len(self.names), 'model')} ({', '.join(self.names)}) on {sizes} prompts"
                f"{judge}, on {ctx.device}")
        replies = self.generate_all()
        check, source, judged = None, "nothing to compare", {}
        if len(self.names) > 1:  # one model alone has nobody to be judged against
            judge = self.engine(job.judge_model, use="train")
            check, source = self.judge_check(judge)
            judged = self.judge_all(judge, replies)
            del judge
            gc.collect()
        rewards = self.rewards(replies)
        report = self.write(RP.build_report(ctx.plan, job, self.names, replies, judged, rewards,
                                            check, source), replies, judged)
        ctx.console.print(RP.text_table(RP.table_rows(report)), markup=False, highlight=False)
        ctx.say(RP.judge_line(report.judge))
        if report.checks:
            ctx.console.print(RP.checks_text(report), markup=False, highlight=False)
        ctx.say(f"report: {EvaluateDir.of(ctx.folder).report_md}")
        metrics = EvaluateMetrics.of(report, job.stats)
        for line in served_summaries(*self.served.values()):
            ctx.say(line)
        if self.served:
            metrics = metrics.model_copy(update={"served": {
                name: e.stats for name, e in self.served.items()}})
        return metrics.model_dump()

    # -- the steps ---------------------------------------------------------------------------
    def engine(self, spec: Any, use: Use = "generate") -> Any:
        """An engine for a model that answers (`generate`: bfloat16 on a CPU that has it, see
        resolve_dtype) or judges (`train`: the precision scores need)."""
        from constlang.runtime.engine import open_engine

        engine = open_engine(spec, device=self.ctx.device, base_dir=self.ctx.base_dir,
                             batch_size=self.job.settings.batch_size, use=use,
                             folder=self.ctx.folder.path, say=self.ctx.say)
        if served_summaries(engine):  # served: keep it for its figures (it holds no weights)
            self.served[spec.id] = engine
        return engine

    def generate_all(self) -> list[dict[str, Any]]:
        """Every model's replies; rows already in replies.jsonl (an interrupted run) are kept."""
        path = EvaluateDir.of(self.ctx.folder).replies
        done = {(r["model"], r["set"], r["index"]) for r in recover_jsonl(path)}
        for name in self.names:
            todo = {set_name: [r for r in rows if (name, set_name, r.index) not in done]
                    for set_name, rows in self.job.sets.items()}
            if not any(todo.values()):
                continue
            engine = self.engine(self.specs[name])
            with self.ctx.progress(f"replies of {name}", sum(map(len, todo.values()))) as update:
                for set_name, rows in todo.items():
                    size = self.job.settings.batch_size
                    for start in range(0, len(rows), size):
                        chunk = rows[start:start + size]
                        append_jsonl(path, self.job.replies(engine, name, self.specs[name],
                                                            set_name, chunk))
                        update(advance=len(chunk))
            del engine
            gc.collect()
        order = {n: k for k, n in enumerate(self.names)}
        kept = [r for r in recover_jsonl(path) if r["model"] in order]
        return sorted(kept, key=lambda r: (order[r["model"]], r["set"], r["index"]))

    def judge_check(self, judge: Any) -> tuple[dict[str, Any] | None, str]:
        """The judge check's report: measured now on `judge_check`, else the one an earlier
        stage of this run with the same judge recorded (a feedback stage's gate), else none."""
        ctx, s = self.ctx, self.job.settings
        if self.pairs is not None:
            from constlang.runtime.judge_check import run_check

            asked = {q.id: q for q in self.job.harmless_questions + self.job.helpful_questions}
            ctx.say(f"checking the judge on {len(self.pairs)} labelled pairs of "
                    f"`{s.judge_check}`")
            return (run_check(self.job, judge, list(asked.values()), self.pairs),
                    f"dataset `{s.judge_check}`")
        for stage in ctx.plan.stages:
            if stage.name == ctx.name or getattr(stage.settings, "judge", None) != s.judge:
                continue
            done = ctx.run.stage(stage.name).read_manifest()
            if done and done.status == "completed" and "judge_check" in done.metrics:
                return done.metrics["judge_check"], f"the gate of stage `{stage.name}`"
        return None, "none"

    def judge_all(self, judge: Any, replies: Sequence[dict[str, Any]]
                  ) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """model → set → each prompt's P(better than the baseline)."""
        baseline = self.names[0]
        out: dict[str, dict[str, list[dict[str, Any]]]] = {}
        with self.ctx.progress("judging", len(self.names) - 1) as update:
            for name in self.names[1:]:
                out[name] = {}
                for set_name in self.job.sets:
                    mine = [r for r in replies if r["model"] == name and r["set"] == set_name]
                    base = [r for r in replies if r["model"] == baseline
                            and r["set"] == set_name]
                    out[name][set_name] = self.job.judge(judge, set_name, mine, base)
                update(advance=1)
        return out

    def rewards(self, replies: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
        """model → set → the reward model's mean score of its replies (empty without one)."""
        s = self.job.settings
        if not s.reward:
            return {}
        from constlang.runtime.models import load_model
        from constlang.runtime.reward import RewardScorer

        ctx = self.ctx
        spec, max_length = resolve_reward(ctx.plan, s.reward, ctx.run)
        scorer = RewardScorer(load_model(spec, device=ctx.device, base_dir=ctx.base_dir,
                                         head="reward"), batch_size=s.batch_size,
                              max_length=max_length)
        out: dict[str, dict[str, float | None]] = {}
        for name in self.names:
            out[name] = {}
            for set_name in self.job.sets:
                mine = [r for r in replies if r["model"] == name and r["set"] == set_name]
                scores = scorer.score([r["prompt"] for r in mine], [r["reply"] for r in mine])
                out[name][set_name] = sum(scores) / len(scores) if scores else None
        return out

    def write(self, report: Report, replies: Sequence[dict[str, Any]],
              judged: dict[str, dict[str, list[dict[str, Any]]]]) -> Report:
        """The judgements, the plots, report.json and report.md; the report with its plots."""
        ctx, folder = self.ctx, EvaluateDir.of(self.ctx.folder)
        atomic_write_text(folder.judgements, "".join(
            json.dumps({"model": m, "set": st, **row}) + "\n"
            for m, sets in judged.items() for st, rows in sets.items() for row in rows),
            follow=False)
        drawn = []
        points = [(n, *m.frontier_point()) for n, m in report.models.items()]
        bars = {n: m.frontier_intervals() for n, m in report.models.items()}
        if plots.frontier(points, folder.frontier, f"{ctx.name}: against `{report.baseline}`",
                          bars):
            drawn.append(folder.frontier.name)
        rates = {cid: {n: (f.pass_rate, f.pass_rate_ci) for n, f in c.models.items()}
                 for cid, c in (report.checks or {}).items()}
        if plots.check_rates(rates, folder.checks_plot, f"{ctx.name}: check pass rates"):
            drawn.append(folder.checks_plot.name)
        for stage_name, figure, values in self.figures:
            name = f"{figure.prefix}_{stage_name}.png"
            if figure.draw(values, folder.path / name, stage_name):
                drawn.append(name)
        report = report.model_copy(update={"plots": drawn})
        atomic_write_text(folder.report_json, report.to_json(), follow=False)
        atomic_write_text(folder.report_md,
                          RP.markdown(report, replies, self.job.settings.samples), follow=False)
        return report

    def outputs(self) -> str:
        return sha256_file(EvaluateDir.of(self.ctx.folder).report_json)


def mean_rate(checks: dict[str, dict[str, float | None]], model: str) -> float | None:
    """A model's pass rate averaged over the checks that applied to any of its replies."""
    rates = [r for per in checks.values() if (r := per.get(model)) is not None]
    return sum(rates) / len(rates) if rates else None


def figures(ctx: Any) -> list[tuple[str, Plot, list[Any]]]:
    """(stage, figure, points) of every figure the report draws from another stage, as that
    stage's runner declares them. Only completed stages are read (the runner verified them,
    see `reads`), and only read: a file damaged since is one error here, before any model
    loads, not after the work."""
    out: list[tuple[str, Plot, list[Any]]] = []
    for stage in ctx.plan.stages:
        declared = figures_of(stage.kind)
        source = ctx.run.stage(stage.name)
        done = source.read_manifest() if declared else None
        if done is None or done.status != "completed":
            continue
        out += [(stage.name, figure, figure.points(source)) for figure in declared]
    return out


def resolve_reward(plan: Any, name: str, run: Any) -> tuple[Any, int | None]:
    """The reward stage's saved model and its training max_length; StageError before it ran."""
    folder = run.stage(name).model
    base = plan.base_model(name)
    if base is None or not folder.is_dir():
        raise StageError(f"reward stage `{name}` has no trained model in {folder} yet; run it "
                         f"first (constlang train ... --stages {name})")
    spec = base.model_copy(update={"id": name, "source": str(folder.resolve()),
                                   "gguf_file": None})
    return spec, getattr(plan.stage(name).settings, "max_length", None)
