"""Runner, dry run: the plan's summary and the prompts of each stage's first batch; loads no
model and writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from constlang import plan as P
from constlang.errors import UserError
from constlang.prompts import chat_text
from constlang.runtime.hashing import RunDirError
from constlang.runtime.outcomes import RunError, RunResult, StageOutcome
from constlang.runtime.rundir import RunDir
from constlang.runtime.stages import StageContext, runner_for


def dry_run_plan(plan: P.Plan, selected: list[Any], base_dir: Path, run_dir: Path,
                 console: Console) -> RunResult:
    """Print the plan summary and the first batch's prompts; loads no model, writes nothing."""
    from constlang.preview import stage_costs

    c = plan.constitution
    console.print(f"[bold]{escape(c.name)}[/] {escape(c.version)}  plan {plan.hash}",
                  highlight=False)
    console.print(f"run directory: {escape(str(run_dir))}", highlight=False)
    costs = {cost.stage: cost for cost in stage_costs(plan, base_dir)}
    outcomes = []
    for stage in selected:
        runner = runner_for(stage.kind)
        status = "planned" if runner is not None else "not_implemented"
        try:
            done = RunDir(run_dir).stage(stage.name).read_manifest()
            note = f", last run {done.status}" if done else ""
        except RunDirError as exc:
            done, note = None, f", its run directory needs attention: {exc}"
        label = "" if runner is not None else " [red](not implemented yet)[/]"
        console.print(f"  {escape(stage.name)} ({escape(stage.kind)}){label}: "
                      f"{escape(costs[stage.name].note)}{escape(note)}",
                      highlight=False)
        outcomes.append(StageOutcome(stage.name, stage.kind, status))
    for stage in selected:
        runner = runner_for(stage.kind)
        if runner is None:
            continue
        ctx = StageContext(plan, stage, base_dir, RunDir(run_dir), console, "cpu")
        try:
            rendered = runner(ctx).preview()
        except UserError as exc:
            raise RunError(f"stage `{stage.name}`: {exc}") from None
        for title, chat in rendered:
            console.rule(Text(title))  # a title holds the row's id: the user's text
            console.print(chat_text(chat), markup=False, highlight=False)
    return RunResult(run_dir, plan.hash, outcomes)
