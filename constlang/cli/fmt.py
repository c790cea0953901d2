"""CLI `fmt`: rewrite .const files in their canonical layout, or check and diff them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import NamedTuple

import click

from constlang.cli.shared import collect_files, command, print_diagnostics
from constlang.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from constlang.files import atomic_write_text
from constlang.source import (
    MAX_SOURCE_BYTES,
    SourceError,
    SourceText,
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
    if paths == ("-",):
        # the same bytes → text checks as a file (NUL, UTF-8, size), not the terminal's decoding
        done = formatted("<stdin>", lambda: sys.stdin.buffer.read(MAX_SOURCE_BYTES + 1))
        if done is not None:
            click.echo(done.canonical, nl=False)
        sys.exit(EXIT_OK if done is not None else EXIT_USAGE)
    files = collect_files(paths)
    if not files:
        raise click.UsageError("no .const files found in " + ", ".join(paths))
    changed: list[Path] = []
    failed = 0
    for path in files:
        shown = printable_name(str(path))
        done = formatted(shown, partial(read_named, path))
        if done is None:
            failed += 1
        elif done.canonical != done.original:
            if check or diff or write(path, shown, done.canonical):
                changed.append(path)
            else:
                failed += 1
            if diff:
                print_diff(shown, done)
            elif check:
                click.echo(f"would reformat {shown}")
    n, total = len(changed), len(files)
    verb = "would be reformatted" if (check or diff) else "reformatted"
    click.echo(f"{n} file{'s' * (n != 1)} {verb}, {total - n - failed} already formatted"
               + (f", {failed} could not be formatted" if failed else ""), err=True)
    sys.exit(EXIT_USAGE if failed else EXIT_FINDINGS if changed and (check or diff) else EXIT_OK)


class Formatted(NamedTuple):
    original: str  # the file's text exactly as read
    text: str  # as the parser reads it (no BOM, newlines normalised)
    canonical: str


def formatted(shown: str, read: Callable[[], bytes]) -> Formatted | None:
    """A file's text and its canonical form; None, after saying why on standard error, when
    the bytes are not constlang source or the text does not parse."""
    from constlang.syntax.format import FormatError, format_source

    try:
        raw = read()
        source = SourceText(shown, decode_source(raw))
    except SourceError as exc:
        click.echo(f"{shown}:{exc.line}:{exc.column}: error: {exc.message}", err=True)
        return None
    try:
        new = format_source(source.text, shown)
    except FormatError as exc:
        print_diagnostics(exc.diagnostics, {shown: source})
        return None
    return Formatted(raw.decode("utf-8"), source.text, new)  # decode_source accepted it


def read_named(path: Path) -> bytes:
    """A file's bytes, refused (as check and compile refuse it) when its name is not UTF-8."""
    if not utf8_name(str(path)):
        raise SourceError("the file name is not valid UTF-8; rename the file with UTF-8 "
                          "characters only")
    return read_source_bytes(path)


def write(path: Path, shown: str, text: str) -> bool:
    """Replace the file with its canonical text; False, after saying why, when it cannot."""
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        click.echo(f"{shown}: error: cannot write: {exc.strerror or exc}", err=True)
        return False
    return True


def print_diff(shown: str, done: Formatted) -> None:
    import difflib

    click.echo("".join(difflib.unified_diff(
        done.text.splitlines(keepends=True), done.canonical.splitlines(keepends=True),
        fromfile=f"{shown} (original)", tofile=f"{shown} (formatted)")), nl=False)
