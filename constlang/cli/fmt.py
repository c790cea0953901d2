"""CLI `fmt`: rewrite .const files in their canonical layout, or check and diff them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from constlang.cli.shared import collect_files, command, print_diagnostics
from constlang.files import atomic_write_text
from constlang.source import (
    MAX_SOURCE_BYTES,
    SourceError,
    SourceFile,
    decode_source,
    printable_name,
    read_source_bytes,
    utf8_name,
)


@command(short_help="Format .const files in the canonical layout.")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a file would change.")
@click.option("--diff", is_flag=True, help="Write nothing; print a unified diff of the changes.")
def fmt(paths: tuple[str, ...], check: bool, diff: bool) -> None:
    """Format .const files in their canonical layout (files, directories, or - for stdin).

    Exit status: 0 when nothing changed (or everything was written), 1 when --check or --diff
    finds a file that would change, 2 when a file cannot be read or does not parse.
    """
    from constlang.syntax.format import FormatError, format_source

    if paths == ("-",):
        # the same bytes → text checks as a file (NUL, UTF-8, size), not the terminal's decoding
        try:
            text = decode_source(sys.stdin.buffer.read(MAX_SOURCE_BYTES + 1))
        except SourceError as exc:
            click.echo(f"<stdin>:{exc.line}:{exc.column}: error: {exc.message}", err=True)
            sys.exit(2)
        try:
            click.echo(format_source(text, "<stdin>"), nl=False)
        except FormatError as exc:
            print_diagnostics(exc.diagnostics, {"<stdin>": SourceFile("<stdin>", text)})
            sys.exit(2)
        return
    files = collect_files(paths)
    if not files:
        raise click.UsageError("no .const files found in " + ", ".join(paths))
    changed: list[Path] = []
    failed = 0
    for path in files:
        shown = printable_name(str(path))
        try:
            if not utf8_name(str(path)):  # the rule check and compile apply, for one answer
                raise SourceError("the file name is not valid UTF-8; rename the file with "
                                  "UTF-8 characters only")
            raw = read_source_bytes(path)
            source = SourceFile(shown, decode_source(raw))
        except SourceError as exc:
            click.echo(f"{shown}:{exc.line}:{exc.column}: error: {exc.message}", err=True)
            failed += 1
            continue
        try:
            new = format_source(source.text, shown)
        except FormatError as exc:
            print_diagnostics(exc.diagnostics, {shown: source})
            failed += 1
            continue
        original = raw.decode("utf-8")  # decode_source accepted it
        if new == original:
            continue
        changed.append(path)
        if diff:
            import difflib

            lines = difflib.unified_diff(
                source.text.splitlines(keepends=True), new.splitlines(keepends=True),
                fromfile=f"{shown} (original)", tofile=f"{shown} (formatted)")
            click.echo("".join(lines), nl=False)
        elif check:
            click.echo(f"would reformat {shown}")
        else:
            try:
                atomic_write_text(path, new)
            except OSError as exc:
                click.echo(f"{shown}: error: cannot write: {exc.strerror or exc}", err=True)
                changed.remove(path)
                failed += 1
    n, total = len(changed), len(files)
    verb = "would be reformatted" if (check or diff) else "reformatted"
    click.echo(f"{n} file{'s' * (n != 1)} {verb}, {total - n - failed} already formatted"
               + (f", {failed} could not be formatted" if failed else ""), err=True)
    if failed:
        sys.exit(2)
    if changed and (check or diff):
        sys.exit(1)
