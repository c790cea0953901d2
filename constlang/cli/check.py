"""CLI `check`: parse, resolve and type-check constitutions and print their diagnostics."""

from __future__ import annotations

import sys

import click

from constlang.cli.shared import allow_outside_root_option, collect_files, command, use_color
from constlang.errors import EXIT_FINDINGS, Diagnostic, Severity
from constlang.source import SourceText


@command(short_help="Check constitutions for errors.")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["full", "concise", "json"]), default="full",
              show_default=True, help="How to print diagnostics.")
@allow_outside_root_option
def check(paths: tuple[str, ...], fmt: str, allow_outside_root: bool) -> None:
    """Parse, resolve and check constitutions (files or directories), including that every
    dataset's file exists (its contents are read by render and train, not here).

    Exit status: 0 when no errors, 1 when any file has errors, 2 on usage errors.
    """
    from constlang.compile import compile_path

    files = collect_files(paths)
    if not files:
        raise click.UsageError("no .const files found in " + ", ".join(paths))
    diagnostics: list[Diagnostic] = []
    seen: set[Diagnostic] = set()  # an imported file's findings are reported once
    sources: dict[str, SourceText] = {}
    for f in files:
        result = compile_path(f, allow_outside_root=allow_outside_root, lower=False)
        sources.update(result.sources)
        for d in result.diagnostics:
            if d not in seen:
                seen.add(d)
                diagnostics.append(d)
    if fmt == "json":
        from constlang.diagnostics_output import render_json

        click.echo(render_json(diagnostics, len(files), "constlang check"), nl=False)
    else:
        from constlang.diagnostics_output import ansi_style, plain_style, render_report

        style = ansi_style if use_color(sys.stdout) else plain_style
        click.echo(render_report(diagnostics, sources, len(files), style, fmt == "concise"),
                   nl=False)
    if any(d.severity is Severity.ERROR for d in diagnostics):
        sys.exit(EXIT_FINDINGS)
