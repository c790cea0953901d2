"""CLI `render` and `plan`: preview a plan's prompts and model work without loading a model."""

from __future__ import annotations

import click

from constlang.cli.shared import allow_outside_root_option, command, compile_or_fail
from constlang.errors import UserError


@command("render", short_help="Show the prompts a stage sends, without a model.")
@click.argument("path", type=click.Path())
@click.option("--stage", "stage_name", required=True, help="The stage whose prompts to show.")
@click.option("--prompt", "prompt", help="Sample user prompt (default: the dataset's first).")
@click.option("--principle", help="Principle id to render with (default: the first selected).")
@click.option("--question", help="Question id to render with (default: the first selected).")
@allow_outside_root_option
def render_cmd(path: str, stage_name: str, prompt: str | None, principle: str | None,
               question: str | None, allow_outside_root: bool) -> None:
    """Show the exact prompts a stage's program sends for a sample input, without a model."""
    from constlang.errors import did_you_mean
    from constlang.preview import SAMPLE_PROMPT, first_prompt
    from constlang.prompts import asked_questions, chat_text, render_stage
    from constlang.semantics.templates import TemplateRenderError, render_error_place

    result = compile_or_fail(path, allow_outside_root)
    plan = result.plan
    names = [s.name for s in plan.stages]
    if not names:
        raise click.UsageError(f"{path} declares no stages, so there is nothing to render")
    if stage_name not in names:
        hint = did_you_mean(stage_name, names)
        raise click.UsageError(f"no stage `{stage_name}`; stages: {', '.join(names)}"
                               + (f" ({hint})" if hint else ""))
    if stage_name not in [p.stage for p in plan.programs]:
        raise click.UsageError(f"stage `{stage_name}` trains a model and sends no prompts; "
                               "stages with prompts: " + ", ".join(p.stage for p in plan.programs))
    stage = plan.stage(stage_name)
    if principle and principle not in getattr(stage.settings, "principles", []):
        raise click.UsageError(f"stage `{stage_name}` does not sample principle `{principle}`")
    if question and question not in asked_questions(stage):
        raise click.UsageError(f"stage `{stage_name}` does not ask question `{question}`")
    # the prompts a stage answers; an evaluate stage's are its harmful ones
    dataset = getattr(stage.settings, "prompts", None) or getattr(stage.settings, "harmful", None)
    text = prompt
    if text is None:
        text = (dataset and first_prompt(plan, dataset, result.base_dir)) or None
        if text is None:
            text = SAMPLE_PROMPT
            click.echo(f"note: no prompt could be read from dataset `{dataset}`; using a sample "
                       "prompt (pass --prompt to choose one)", err=True)
    try:
        steps = render_stage(plan, stage_name, text, principle, question)
    except TemplateRenderError as exc:  # at the line of the .const file where it failed
        place = render_error_place(exc, result.world)
        if place is None:
            raise UserError(f"a template failed to render: {exc}") from None
        which = f" ({exc.step} step)" if exc.step else ""
        raise UserError(f"{place}: template `{exc.template}`{which} failed to render: "
                        f"{exc.reason}") from None
    stages = set(names)
    for step in steps:
        caller = f"policy {step.model} (stage)" if step.model in stages else f"model {step.model}"
        click.echo(click.style(f"── {step.step} · template {step.template} · {caller} ──",
                               bold=True))
        click.echo(chat_text(step.messages) + "\n")


@command("plan", short_help="Summarise stages, model calls and tokens.")
@click.argument("path", type=click.Path())
@allow_outside_root_option
def plan_cmd(path: str, allow_outside_root: bool) -> None:
    """Summarise a constitution's plan: stages in order and the model work each needs."""
    from constlang.preview import stage_costs

    result = compile_or_fail(path, allow_outside_root)
    plan = result.plan
    c = plan.constitution
    click.echo(f"{c.name} {c.version}  ({plan.hash[:19]}…)")
    click.echo(f"  {len(plan.principles)} principles, {len(plan.questions)} questions, "
               f"{len(plan.examples)} examples, {len(plan.models)} models, "
               f"{len(plan.datasets)} datasets, {len(plan.programs)} prompt programs")
    click.echo("")
    click.echo(f"  {'#':>2}  {'stage':<20} {'kind':<18} {'prompts':>7} {'calls':>8} "
               f"{'max tokens':>10}  notes")

    def n(v: int | None) -> str:
        return "?" if v is None else f"{v:,}"

    for i, cost in enumerate(stage_costs(plan, result.base_dir), 1):
        click.echo(f"  {i:>2}  {cost.stage:<20} {cost.kind:<18} {n(cost.prompts):>7} "
                   f"{n(cost.calls):>8} {n(cost.tokens):>10}  {cost.note}")
