"""CLI `schema`: the JSON Schema of the training plan."""

from __future__ import annotations

import json

import click

from constlang.cli.shared import command


@command()
def schema() -> None:
    """Print the JSON Schema of the training plan."""
    from constlang.plan import plan_schema

    click.echo(json.dumps(plan_schema(), indent=2))
