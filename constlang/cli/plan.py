"""CLI `plan`: a constitution's stages in order and the model work each needs, without a model."""

from __future__ import annotations

import click

from constlang.cli.shared import allow_outside_root_option, command, compile_or_fail
from constlang.words import counted


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
    click.echo("  " + ", ".join(counted(len(items), noun) for items, noun in [
        (plan.principles, "principle"), (plan.checks, "check"), (plan.questions, "question"),
        (plan.examples, "example"),
        (plan.models, "model"), (plan.datasets, "dataset"), (plan.programs, "prompt program")]))
    from constlang.served import describe

    for model in (m for m in plan.models if m.served):
        click.echo(f"  model {model.id}: {describe(model)}")
    click.echo("")
    click.echo(f"  {'#':>2}  {'stage':<20} {'kind':<18} {'prompts':>7} {'calls':>8} "
               f"{'max tokens':>10}  notes")

    def n(v: int | None) -> str:
        return "?" if v is None else f"{v:,}"

    for i, cost in enumerate(stage_costs(plan, result.base_dir), 1):
        click.echo(f"  {i:>2}  {cost.stage:<20} {cost.kind:<18} {n(cost.prompts):>7} "
                   f"{n(cost.calls):>8} {n(cost.tokens):>10}  {cost.note}")
