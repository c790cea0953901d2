"""CLI `compile`: write a constitution's training plan (JSON, content-hashed)."""

from __future__ import annotations

from pathlib import Path

import click

from constlang.cli.shared import allow_outside_root_option, command, compile_or_fail, write_output


@command("compile", short_help="Compile a constitution into its training plan.")
@click.argument("path", type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write the plan here instead of standard output.")
@allow_outside_root_option
def compile_cmd(path: str, output: str | None, allow_outside_root: bool) -> None:
    """Compile a constitution into its training plan (JSON, content-hashed)."""
    result = compile_or_fail(path, allow_outside_root)
    text = result.plan.to_json()
    if output:
        write_output(Path(output), text)
        click.echo(f"wrote {output} ({result.plan.hash})", err=True)
    else:
        click.echo(text, nl=False)
