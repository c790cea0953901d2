"""CLI `lint`: run the lint rules over constitutions, fix, diff, baseline, and report."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from constlang.cli.shared import collect_files, command, use_color, write_output
from constlang.errors import EXIT_FINDINGS, EXIT_OK, Diagnostic
from constlang.lint.config import OUTPUT_FORMATS, LintConfig, parse_severity
from constlang.source import SourceText

if TYPE_CHECKING:
    from constlang.lint.engine import LintReport

MAX_FIX_PASSES = 10


def _codes(values: Sequence[str]) -> tuple[str, ...] | None:
    """Repeatable, comma-separated selector options → one tuple (None when not given)."""
    if not values:
        return None
    return tuple(c.strip() for v in values for c in v.split(",") if c.strip())


def _config(paths: Sequence[str], config_path: str | None, isolated: bool) -> LintConfig:
    from constlang.lint.config import find_config, load_config

    if isolated:
        return LintConfig()
    if config_path:
        return load_config(Path(config_path))
    start = Path(paths[0]) if paths else Path.cwd()
    return load_config(find_config(start if start.exists() else Path.cwd()))


def _fix_files(files: Sequence[Path], config: LintConfig, unsafe: bool, diff: bool,
               allow_outside_root: bool) -> tuple[int, list[str]]:
    """Apply fixes file by file, re-linting after each pass; returns (fixed, diffs)."""
    from constlang.lint.engine import lint_file
    from constlang.lint.fix import OnDisk, apply_fixes

    fixed, diffs = 0, []
    for path in files:
        disk = OnDisk.of(path)
        original: str | None = None
        for _ in range(MAX_FIX_PASSES):
            result = lint_file(path, config, allow_outside_root=allow_outside_root)
            source = result.sources.get(result.display)
            if source is None:
                break
            original = source.text if original is None else original
            own = [d for d in result.diagnostics if d.file == result.display]
            text, done = apply_fixes(source.text, own, unsafe)
            if not done:
                break
            fixed += len(done)
            if diff:
                import difflib

                diffs.append("".join(difflib.unified_diff(
                    original.splitlines(keepends=True), text.splitlines(keepends=True),
                    f"a/{result.display}", f"b/{result.display}")))
                break  # one pass: the file on disk stays as it is
            disk.write(path, text)
    return fixed, diffs


def statistics_table(diagnostics: list[Diagnostic], files: int) -> str:
    """Findings per code, most frequent first: count, code, rule name, [*] when fixable; with
    no finding, the line lint's report ends with (`All checks passed (3 files).`)."""
    from collections import Counter

    from constlang.diagnostics_output import summary_line
    from constlang.lint.registry import RULES

    if not diagnostics:
        return summary_line(diagnostics, files) + "\n"

    names = {r.code: r.name for r in RULES}
    counts = Counter(d.code for d in diagnostics)
    fixable = {d.code for d in diagnostics if d.fix is not None}
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    width = max((len(str(n)) for _, n in rows), default=1)
    lines = [f"{n:>{width}}  {code:<6} {'[*]' if code in fixable else '   '} "
             f"{names.get(code, 'compiler')}" for code, n in rows]
    return "\n".join(lines) + "\n"


@command("lint", short_help="Lint constitutions with rules for this field.")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--output-format", "--format", "fmt", type=click.Choice(OUTPUT_FORMATS),
              help="How to print findings  [default: full, or `output-format` in the config]")
@click.option("-o", "--output-file", type=click.Path(dir_okay=False),
              help="Write the report to this file instead of standard output.")
@click.option("--select", multiple=True, metavar="CODES",
              help="Rules to run (codes, prefixes, names, categories or ALL), comma-separated; "
              "replaces the configured selection.")
@click.option("--extend-select", multiple=True, metavar="CODES",
              help="Rules to run in addition to the selection.")
@click.option("--ignore", multiple=True, metavar="CODES",
              help="Rules (or compiler warnings such as W001) not to report.")
@click.option("--fail-level", type=click.Choice(["error", "warning", "info"]),
              help="Exit with 1 when a finding is at least this severe  [default: warning]")
@click.option("--fix", is_flag=True, help="Apply safe fixes in place.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff, apply unsafe fixes too.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff; change no file.")
@click.option("--baseline", type=click.Path(dir_okay=False),
              help="Report only findings that are not recorded in this baseline file.")
@click.option("--write-baseline", is_flag=True,
              help="Record today's findings in the --baseline file and exit 0.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="Read settings from this constlang.toml or pyproject.toml.")
@click.option("--isolated", is_flag=True, help="Ignore configuration files.")
@click.option("--allow-outside-root", is_flag=True,
              help="Allow imports and dataset files outside the project root.")
@click.option("--statistics", is_flag=True,
              help="Print the number of findings per rule instead of the findings.")
def lint(paths: tuple[str, ...], fmt: str | None, output_file: str | None,
         select: tuple[str, ...], extend_select: tuple[str, ...], ignore: tuple[str, ...],
         fail_level: str | None, fix: bool, unsafe_fixes: bool, diff: bool,
         baseline: str | None, write_baseline: bool, config_path: str | None, isolated: bool,
         allow_outside_root: bool, statistics: bool) -> None:
    """Lint constitutions: compiler diagnostics plus constlang's lint rules.

    PATHS are .const files or folders (default: the current folder). Exit status: 0 when no
    finding reaches --fail-level, 1 when one does, 2 on a usage error, 3 on an internal error.
    """
    from constlang.lint.engine import at_or_above, lint_paths

    if write_baseline and not baseline:
        raise click.UsageError("--write-baseline needs --baseline FILE")
    if unsafe_fixes and not (fix or diff):
        raise click.UsageError("--unsafe-fixes applies with --fix or --diff")
    targets = paths or (".",)
    config = _config(targets, config_path, isolated).with_cli(
        select=_codes(select), extend_select=_codes(extend_select), ignore=_codes(ignore),
        fail_level=parse_severity(fail_level) if fail_level else None)
    files = _files(targets, config)
    fixed, diffs = (_fix_files(files, config, unsafe_fixes, diff, allow_outside_root)
                    if fix or diff else (0, []))
    if diff:
        click.echo("".join(diffs), nl=False)
        click.echo(f"Would fix {fixed} finding{'s' * (fixed != 1)}.", err=True)
        sys.exit(EXIT_FINDINGS if fixed else EXIT_OK)
    report = lint_paths(files, config, allow_outside_root=allow_outside_root)
    diagnostics = report.diagnostics
    if baseline and write_baseline:
        _write_baseline(baseline, diagnostics, report.sources)
        sys.exit(EXIT_OK)
    if baseline:
        diagnostics = _without_baseline(baseline, diagnostics, report.sources)
    if statistics:
        click.echo(statistics_table(diagnostics, len(report.files)), nl=False)
        sys.exit(EXIT_FINDINGS if at_or_above(diagnostics, config.fail_level) else EXIT_OK)
    _print_report(report, diagnostics, fmt or config.output_format, output_file)
    if fix and fixed:
        click.echo(f"Fixed {fixed} finding{'s' * (fixed != 1)}.", err=True)
    sys.exit(EXIT_FINDINGS if at_or_above(diagnostics, config.fail_level) else EXIT_OK)


def _files(targets: Sequence[str], config: LintConfig) -> list[Path]:
    """The .const files to lint: those under the targets that the configuration does not
    exclude. Unknown rule selectors are rejected first, before any work."""
    from constlang.lint.config import enabled_rules
    from constlang.lint.registry import RULES

    enabled_rules(config, RULES)
    found = collect_files(targets)
    files = [f for f in found if not config.excluded(f)]
    if found and not files:
        raise click.UsageError(
            f"every .const file given ({len(found)}) is excluded by `exclude` in the "
            "configuration; pass --isolated to lint them anyway")
    if not files:
        raise click.UsageError("no .const files found in " + ", ".join(targets))
    return files


def _write_baseline(baseline: str, diagnostics: list[Diagnostic],
                    sources: Mapping[str, SourceText]) -> None:
    """Record today's findings in the baseline file."""
    from constlang.lint.baseline import write_baseline

    n = write_baseline(Path(baseline), diagnostics, sources)
    click.echo(f"wrote {n} finding{'s' * (n != 1)} to {baseline}", err=True)


def _without_baseline(baseline: str, diagnostics: list[Diagnostic],
                      sources: Mapping[str, SourceText]) -> list[Diagnostic]:
    """The findings the baseline file does not record; says how many it hid."""
    from constlang.lint.baseline import load_baseline, new_findings

    path = Path(baseline)
    shown = new_findings(diagnostics, load_baseline(path), sources, path.parent)
    hidden = len(diagnostics) - len(shown)
    if hidden:
        click.echo(f"{hidden} finding{'s' * (hidden != 1)} hidden by the baseline {baseline}",
                   err=True)
    return shown


def _print_report(report: LintReport, diagnostics: list[Diagnostic], fmt: str,
                  output_file: str | None) -> None:
    """The findings in the chosen format, on standard output or in `output_file`."""
    from constlang.diagnostics_output import ansi_style, plain_style
    from constlang.lint.output import RENDERERS

    colored = fmt in ("full", "concise") and not output_file and use_color(sys.stdout)
    kwargs = {"style": ansi_style if colored else plain_style} if fmt in ("full", "concise") \
        else {"linted": [f.display for f in report.files]} if fmt == "junit" else {}
    text = RENDERERS[fmt](diagnostics, report.sources, len(report.files), **kwargs)
    if output_file:
        write_output(Path(output_file), text)
    else:
        click.echo(text, nl=False)
