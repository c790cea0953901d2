"""CLI `render`: the exact prompts a stage sends for a sample input, without loading a model."""

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
    from constlang.errors import suggest_then_list
    from constlang.preview import SAMPLE_PROMPT, first_prompt
    from constlang.prompts import asked_questions, chat_text, render_stage
    from constlang.semantics.templates import TemplateRenderError, render_error_place
    from constlang.served import describe

    result = compile_or_fail(path, allow_outside_root)
    plan = result.plan
    names = [s.name for s in plan.stages]
    if not names:
        raise click.UsageError(f"{path} declares no stages, so there is nothing to render")
    if stage_name not in names:
        raise click.UsageError(suggest_then_list(f"no stage `{stage_name}`", stage_name, names,
                                                 "stages"))
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
        served = next((m for m in plan.models if m.id == step.model and m.served), None)
        caller += f" ({describe(served)})" if served else ""
        click.echo(click.style(f"── {step.step} · template {step.template} · {caller} ──",
                               bold=True))
        click.echo(chat_text(step.messages) + "\n")
