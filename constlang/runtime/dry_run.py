"""Runner, dry run: the plan's summary and the prompts of each stage's first batch; loads no
model and writes nothing. By default only the first prompt of each step is printed (issue
#20: the demo's full view ran to about 1,000 lines); `verbose` prints them all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from constlang import plan as P
from constlang.errors import UserError
from constlang.prompts import Chat, chat_text
from constlang.runtime.hashing import RunDirError
from constlang.runtime.outcomes import RunError, RunResult, StageOutcome
from constlang.runtime.rundir import RunDir
from constlang.runtime.stages import StageContext, runner_for
from constlang.words import counted


def dry_run_plan(plan: P.Plan, selected: list[Any], base_dir: Path, run_dir: Path,
                 console: Console, verbose: bool = False) -> RunResult:
    """Print the plan summary and the first batch's prompts (all of them when `verbose`,
    else the first of each step); loads no model, writes nothing."""
    c = plan.constitution
    console.print(f"[bold]{escape(c.name)}[/] {escape(c.version)}  plan {plan.hash}",
                  highlight=False)
    console.print(f"run directory: {escape(str(run_dir))}", highlight=False)
    outcomes = _print_stages(plan, selected, base_dir, run_dir, console)
    left_out = 0
    for stage in selected:
        runner = runner_for(stage.kind)
        if runner is None:
            continue
        ctx = StageContext(plan, stage, base_dir, RunDir(run_dir), console, "cpu")
        try:
            rendered = runner(ctx).preview()
        except UserError as exc:
            raise RunError(f"stage `{stage.name}`: {exc}") from None
        shown = rendered if verbose else first_of_each_step(rendered)
        left_out += len(rendered) - len(shown)
        for title, chat in shown:
            console.rule(Text(title))  # a title holds the row's id: the user's text
            console.print(chat_text(chat), markup=False, highlight=False)
    if left_out:
        console.print(f"{counted(left_out, 'more prompt')} of the first batch left out (the "
                      "first of each step is shown); --verbose shows them all.", highlight=False)
    return RunResult(run_dir, plan.hash, outcomes)


def _print_stages(plan: P.Plan, selected: list[Any], base_dir: Path, run_dir: Path,
                  console: Console) -> list[StageOutcome]:
    """One line per selected stage: kind, cost note, and its last run's status."""
    from constlang.preview import stage_costs

    costs = {cost.stage: cost for cost in stage_costs(plan, base_dir)}
    outcomes = []
    for stage in selected:
        runner = runner_for(stage.kind)
        status = "planned" if runner is not None else "not_implemented"
        try:
            done = RunDir(run_dir).stage(stage.name).read_manifest()
            note = f", last run {done.status}" if done else ""
        except RunDirError as exc:
            note = f", its run directory needs attention: {exc}"
        label = "" if runner is not None else " [red](not implemented yet)[/]"
        console.print(f"  {escape(stage.name)} ({escape(stage.kind)}){label}: "
                      f"{escape(costs[stage.name].note)}{escape(note)}",
                      highlight=False)
        outcomes.append(StageOutcome(stage.name, stage.kind, status))
    return outcomes


def step_of(title: str) -> str:
    """The step a preview title names, without the row: "critique_revision · prompt rt-001 ·
    critique (round 1, principle honesty)" -> "critique_revision · critique"; a title
    without a `prompt ID` part is its own step."""
    parts = title.split(" · ")
    rows = [i for i, part in enumerate(parts) if part.startswith("prompt ")]
    if not rows:
        return title
    head, tail = parts[:rows[0]], parts[rows[0] + 1:]
    return " · ".join([*head, *(t.split(" (")[0] for t in tail)])


def first_of_each_step(rendered: list[tuple[str, Chat]]) -> list[tuple[str, Chat]]:
    """The first (title, chat) of each step, in the order the steps first appear."""
    seen: set[str] = set()
    out = []
    for title, chat in rendered:
        step = step_of(title)
        if step not in seen:
            seen.add(step)
            out.append((title, chat))
    return out
