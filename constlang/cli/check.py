"""CLI `check`: parse, resolve and type-check constitutions and print their diagnostics."""

from __future__ import annotations

import sys

import click

from constlang.cli.shared import (
    EXIT_FINDINGS,
    allow_outside_root_option,
    collect_files,
    command,
    print_diagnostics,
)
from constlang.errors import Diagnostic, Severity
from constlang.source import SourceFile


@command(short_help="Check constitutions for errors.")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["full", "concise", "json"]), default="full",
              show_default=True, help="How to print diagnostics.")
@allow_outside_root_option
def check(paths: tuple[str, ...], fmt: str, allow_outside_root: bool) -> None:
    """Parse, resolve and check constitutions (files or directories).

    Exit status: 0 when no errors, 1 when any file has errors, 2 on usage errors.
    """
    from constlang.compile import compile_path

    files = collect_files(paths)
    if not files:
        raise click.UsageError("no .const files found in " + ", ".join(paths))
    diagnostics: list[Diagnostic] = []
    sources: dict[str, SourceFile] = {}
    for f in files:
        result = compile_path(f, allow_outside_root=allow_outside_root)
        sources.update(result.sources)
        diagnostics.extend(d for d in result.diagnostics if d not in diagnostics)
    if fmt == "json":
        from constlang.report import render_json

        click.echo(render_json(diagnostics), nl=False)
    else:
        from constlang.report import summary_line

        print_diagnostics(diagnostics, sources, fmt, err=False)
        if diagnostics and fmt == "full":
            click.echo("")
        click.echo(summary_line(diagnostics, len(files)))
    if any(d.severity is Severity.ERROR for d in diagnostics):
        sys.exit(EXIT_FINDINGS)
