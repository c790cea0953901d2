"""CLI shared parts: the one place errors become messages and exit statuses, the command
class, and the helpers every command uses."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn

import click

from constlang.errors import (
    ConstlangError,
    Diagnostic,
    InternalError,
    Severity,
    UsageError,
    UserError,
)
from constlang.source import SourceText, const_files_under

# Every command sets these, not only the group: click caches a command's help option the first
# time it is built, so a command run on its own (as tests do) must already know `-h`.
HELP_OPTIONS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def report_error(exc: ConstlangError) -> NoReturn:
    """The one place a failure becomes a message and an exit status: `error: <message>` (or,
    for an InternalError, `internal error: <message>` and a request to report it) on standard
    error, then exit with the error's status. With a launcher's several processes, the other
    processes' lines say which one they come from: an error may be theirs alone (a file
    missing on one node)."""
    from constlang.runtime.processes import rank

    n = rank()
    where = f"[rank {n}] " if n else ""
    if isinstance(exc, InternalError):
        click.echo(f"{where}internal error: {exc}", err=True)
        click.echo("this is a bug in constlang; please report it with the input file", err=True)
    else:
        click.echo(f"{where}error: {exc}", err=True)
    sys.exit(exc.exit_code)


class Command(click.Command):
    """A constlang command: a ConstlangError raised while it runs becomes one message and the
    error's exit status (`report_error`), under `main` and under click's test runner alike."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConstlangError as exc:
            report_error(exc)


def command(name: str | None = None, **attrs: Any) -> Callable[[Callable[..., Any]], Command]:
    """`click.command` with constlang's command class and help options."""
    return click.command(name, cls=Command, context_settings=HELP_OPTIONS, **attrs)


allow_outside_root_option = click.option(
    "--allow-outside-root", is_flag=True,
    help="Allow imports and dataset files outside the project root.")


def use_color(stream=None) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    stream = stream or sys.stdout
    return hasattr(stream, "isatty") and stream.isatty()


def collect_files(paths: Iterable[str]) -> list[Path]:
    """Expand files and directories into the .const files to check, in a stable order."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(const_files_under(p)))
        elif p.exists():
            out.append(p)
        else:
            from constlang.source import printable_name

            raise click.UsageError(f"path `{printable_name(raw)}` does not exist")
    return out


def write_output(path: Path, text: str) -> None:
    """Write a whole file atomically; an unwritable path is a usage error (exit 2)."""
    from constlang.files import atomic_write_text

    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def print_diagnostics(diagnostics: list[Diagnostic], sources: dict[str, SourceText],
                      fmt: str = "full", err: bool = True) -> None:
    from constlang.diagnostics_output import ansi_style, plain_style, render_text

    stream = sys.stderr if err else sys.stdout
    style = ansi_style if use_color(stream) else plain_style
    text = render_text(diagnostics, sources, style, concise=fmt == "concise")
    if text:
        click.echo(text, err=err, nl=False)


def compile_or_fail(path: str, allow_outside_root: bool = False,
                    consequence: str = "no plan written"):
    """Compile one file and print its warnings; with errors, print them and raise UserError."""
    from constlang.compile import compile_path
    from constlang.source import printable_name

    p = Path(path)
    if not p.is_file():
        raise click.UsageError(f"`{printable_name(path)}` is not a file")
    result = compile_path(p, allow_outside_root=allow_outside_root)
    if result.plan is None:
        print_diagnostics(result.diagnostics, result.sources)
        errors = sum(d.severity is Severity.ERROR for d in result.diagnostics)
        raise UserError(f"{printable_name(path)} has {errors} error{'s' * (errors != 1)}; "
                        f"{consequence}")
    warnings = [d for d in result.diagnostics if d.severity is not Severity.ERROR]
    if warnings:
        print_diagnostics(warnings, result.sources)
    return result
