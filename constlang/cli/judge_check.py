"""CLI `judge-check`: measure a judge on labelled pairs before a feedback stage relies on it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from constlang.cli.shared import allow_outside_root_option, command, compile_or_fail
from constlang.errors import EXIT_FINDINGS, UsageError
from constlang.words import counted


def _feedback_stages(plan: Any, path: str) -> list[Any]:
    stages = [s for s in plan.stages if s.kind == "feedback"]
    if not stages:
        raise UsageError(f"{path} declares no feedback stage; judge-check renders its questions "
                         "with a feedback stage's compare and pointwise templates, so add a "
                         "`stage feedback { ... }`")
    return stages


def _questions(plan: Any, stages: list[Any], wanted: str | None) -> list[Any]:
    from constlang.runtime.judge_check import selected_questions

    if wanted is None:  # the questions the feedback stage(s) ask, in declaration order
        asked = {q.id for s in stages for q in selected_questions(plan, s.name)}
        return [q for q in plan.questions if q.id in asked]
    by_id = {q.id: q for q in plan.questions}
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    unknown = [n for n in names if n not in by_id]
    if unknown or not names:
        known = ", ".join(by_id) or "none"
        raise UsageError(f"--questions: unknown question(s) {', '.join(unknown) or '(none)'}; "
                         f"questions: {known}")
    return [by_id[n] for n in names]


def _pairs(plan: Any, stage: Any, pairs_opt: str | None, base_dir: Path) -> tuple[str, list]:
    from constlang.runtime.judge_check import read_dataset_pairs, read_pairs

    if pairs_opt is None:
        name = stage.settings.judge_check
        if name is None:
            raise UsageError(f"stage `{stage.name}` names no judge_check dataset; pass --pairs "
                             "DATASET (or a .jsonl file)")
        return name, read_dataset_pairs(plan.dataset(name), base_dir)
    if any(d.id == pairs_opt for d in plan.datasets):
        return pairs_opt, read_dataset_pairs(plan.dataset(pairs_opt), base_dir)
    if Path(pairs_opt).is_file():
        return pairs_opt, read_pairs(Path(pairs_opt))
    known = ", ".join(d.id for d in plan.datasets) or "none"
    raise UsageError(f"--pairs `{pairs_opt}` is neither a dataset ({known}) nor a file")


@command("judge-check", short_help="Measure a judge on labelled pairs before relying on it.")
@click.argument("path", type=click.Path())
@click.option("--judge", metavar="MODEL",
              help="The model declaration to check (default: the feedback stage's judge).")
@click.option("--questions", "questions_opt", metavar="A,B",
              help="Only these questions (default: those the feedback stage(s) ask).")
@click.option("--pairs", "pairs_opt", metavar="DATASET",
              help="A dataset of pairs, or a .jsonl file (default: the stage's judge_check).")
@click.option("--min-accuracy", type=click.FloatRange(0.0, 1.0), metavar="X",
              help="Exit 1 when a question's accuracy is below X (default: the stage's "
                   "min_judge_accuracy).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="A table for people, or JSON.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Where the judge runs.")
@allow_outside_root_option
def judge_check(path: str, judge: str | None, questions_opt: str | None, pairs_opt: str | None,
                min_accuracy: float | None, fmt: str, device: str,
                allow_outside_root: bool) -> None:
    """Score labelled pairs (JSONL rows with prompt, better, worse) with a judge and report,
    per question: accuracy (both orders averaged), accuracy in each single order, how often
    the judge picks the same slot, the probability mass on the options, calibration and the
    spread of its labels. The prompts are the first feedback stage's own templates.

    Exit status: 0, or 1 when a question's accuracy is below the threshold (--min-accuracy,
    else the stage's min_judge_accuracy) or the constitution has errors; 2 on usage errors.
    """
    from constlang.cli.train import require_training_extras

    require_training_extras()
    result = compile_or_fail(path, allow_outside_root, consequence="no judge was checked")
    plan = result.plan
    assert plan is not None
    stages = _feedback_stages(plan, path)
    stage = stages[0]
    judge_name = judge or stage.settings.judge
    if not any(m.id == judge_name for m in plan.models):
        known = ", ".join(m.id for m in plan.models) or "none"
        raise UsageError(f"--judge `{judge_name}` is not a model declaration; models: {known}")
    questions = _questions(plan, stages, questions_opt)
    if not questions:
        raise UsageError(f"stage `{stage.name}` asks no question with a weight above 0; pass "
                         "--questions")
    program = {step.name for step in plan.program(stage.name).steps}
    for q in questions:
        step = "compare" if q.kind == "pairwise" else "pointwise"
        if step not in program:
            raise UsageError(f"question `{q.id}` is {q.kind}, but stage `{stage.name}` asks no "
                             f"{q.kind} question, so the plan has no {step} template for it")
    pairs_name, pairs = _pairs(plan, stage, pairs_opt, result.base_dir)
    threshold = min_accuracy if min_accuracy is not None else stage.settings.min_judge_accuracy

    # the runtime is imported here, not at the top, so the other commands start without it
    import torch

    from constlang.runtime.engine import open_engine, served_summaries
    from constlang.runtime.judge_check import format_table, run_check
    from constlang.runtime.models import resolve_device
    from constlang.runtime.runner import quiet_libraries
    from constlang.runtime.stages.feedback import Feedback

    resolved = resolve_device(None if device == "auto" else device)
    if resolved.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is visible to torch; use --device cpu")
    quiet_libraries()
    feedback = Feedback.from_plan(plan, stage.name)
    engine = open_engine(plan.model(judge_name), device=resolved, base_dir=result.base_dir,
                         batch_size=stage.settings.batch_size, use="train",
                         say=lambda line: click.echo(line, err=True))
    report = run_check(feedback, engine, questions, pairs, threshold)
    for line in served_summaries(engine):
        click.echo(line, err=True)
        report["served"] = engine.stats
    report = {"constitution": path, "stage": stage.name, "judge": judge_name,
              "pairs_from": pairs_name, "device": resolved, **report}
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(f"judge `{judge_name}` on {counted(len(pairs), 'pair')} from {pairs_name} "
                   f"({resolved}, {report['seconds']:.0f} s), templates of stage `{stage.name}`")
        click.echo(format_table(report))
        if report["failing"]:
            click.echo(f"below {threshold}: {', '.join(report['failing'])}")
    if not report["passed"]:
        sys.exit(EXIT_FINDINGS)
