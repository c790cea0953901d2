"""CLI `lint` and `rule`: run the lint rules over constitutions, and explain a rule."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from constlang.cli.shared import (
    EXIT_FINDINGS,
    EXIT_OK,
    collect_files,
    command,
    internal_error,
    use_color,
    write_output,
)
from constlang.errors import Diagnostic, UsageError
from constlang.lint.config import OUTPUT_FORMATS, ConfigError, LintConfig, parse_severity

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


def statistics_table(diagnostics: list[Diagnostic]) -> str:
    """Findings per code, most frequent first: count, code, rule name, [*] when fixable."""
    from collections import Counter

    from constlang.lint.registry import RULES

    names = {r.code: r.name for r in RULES}
    counts = Counter(d.code for d in diagnostics)
    fixable = {d.code for d in diagnostics if d.fix is not None}
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    width = max((len(str(n)) for _, n in rows), default=1)
    lines = [f"{n:>{width}}  {code:<6} {'[*]' if code in fixable else '   '} "
             f"{names.get(code, 'compiler')}" for code, n in rows]
    return "\n".join(lines) + ("\n" if lines else "")


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
    from constlang.lint import baseline as baselines
    from constlang.lint.engine import RuleCrash, at_or_above, lint_paths
    from constlang.lint.output import RENDERERS
    from constlang.report import ansi_style, plain_style

    if write_baseline and not baseline:
        raise click.UsageError("--write-baseline needs --baseline FILE")
    if unsafe_fixes and not (fix or diff):
        raise click.UsageError("--unsafe-fixes applies with --fix or --diff")
    targets = paths or (".",)
    try:
        config = _config(targets, config_path, isolated).with_cli(
            select=_codes(select), extend_select=_codes(extend_select), ignore=_codes(ignore),
            fail_level=parse_severity(fail_level) if fail_level else None)
        from constlang.lint.config import enabled_rules
        from constlang.lint.registry import RULES

        enabled_rules(config, RULES)  # reject unknown selectors before any work
        found = collect_files(targets)
        files = [f for f in found if not config.excluded(f)]
        if found and not files:
            raise click.UsageError(
                f"every .const file given ({len(found)}) is excluded by `exclude` in the "
                "configuration; pass --isolated to lint them anyway")
        if not files:
            raise click.UsageError("no .const files found in " + ", ".join(targets))
        fixed, diffs = (_fix_files(files, config, unsafe_fixes, diff, allow_outside_root)
                        if fix or diff else (0, []))
        report = lint_paths(files, config, allow_outside_root=allow_outside_root)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    except RuleCrash as exc:
        internal_error(str(exc))
    diagnostics = report.diagnostics
    sources = report.sources
    if diff:
        click.echo("".join(diffs), nl=False)
        click.echo(f"Would fix {fixed} finding{'s' * (fixed != 1)}.", err=True)
        sys.exit(EXIT_FINDINGS if fixed else EXIT_OK)
    if baseline:
        path = Path(baseline)
        if write_baseline:
            try:
                n = baselines.write_baseline(path, diagnostics, sources)
            except OSError as exc:
                raise UsageError(f"cannot write the baseline {baseline}: "
                                 f"{exc.strerror or exc}") from None
            click.echo(f"wrote {n} finding{'s' * (n != 1)} to {baseline}", err=True)
            sys.exit(EXIT_OK)
        try:
            known = baselines.load_baseline(path)
        except baselines.BaselineError as exc:
            raise UsageError(str(exc)) from None
        shown = baselines.new_findings(diagnostics, known, sources, path.parent)
        hidden = len(diagnostics) - len(shown)
        if hidden:
            click.echo(f"{hidden} finding{'s' * (hidden != 1)} hidden by the baseline "
                       f"{baseline}", err=True)
        diagnostics = shown
    if statistics:
        click.echo(statistics_table(diagnostics), nl=False)
        sys.exit(EXIT_FINDINGS if at_or_above(diagnostics, config.fail_level) else EXIT_OK)
    name = fmt or config.output_format
    colored = name in ("full", "concise") and not output_file and use_color(sys.stdout)
    kwargs = {"style": ansi_style if colored else plain_style} if name in ("full", "concise") \
        else {"linted": [f.display for f in report.files]} if name == "junit" else {}
    text = RENDERERS[name](diagnostics, sources, len(report.files), **kwargs)
    if output_file:
        write_output(Path(output_file), text)
    else:
        click.echo(text, nl=False)
    if fix and fixed:
        click.echo(f"Fixed {fixed} finding{'s' * (fixed != 1)}.", err=True)
    sys.exit(EXIT_FINDINGS if at_or_above(diagnostics, config.fail_level) else EXIT_OK)


@command("rule", short_help="Explain a lint rule, or list them all.")
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="List every rule.")
@click.option("--output-format", "--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True,
              help="text for the terminal, markdown for docs, json for tools.")
def rule(code: str | None, show_all: bool, fmt: str) -> None:
    """Explain a lint rule (by code or name), or list them all with --all."""
    import json

    from constlang.errors import did_you_mean
    from constlang.lint.docs import rule_markdown, rule_table, rule_text
    from constlang.lint.registry import BY_CODE, BY_NAME, RULES, lookup

    if show_all and code is not None:
        raise click.UsageError("give either a rule code or name, or --all, not both")
    if not show_all and code is None:
        raise click.UsageError("give a rule code or name, or --all")
    chosen = list(RULES) if show_all else []
    if code is not None:
        r = lookup(code)
        if r is None and re.fullmatch(r"[EW][0-9]{3}", code.upper()):
            raise click.UsageError(f"`{code}` is a compiler diagnostic, not a lint rule; "
                                   "docs/errors.md explains every compiler code")
        if r is None:
            prefixed = sorted(c for c in BY_CODE if c.startswith(code.upper()))
            if prefixed:
                raise click.UsageError(f"`{code}` is a prefix of {len(prefixed)} rules: "
                                       + ", ".join(prefixed))
            hint = did_you_mean(code, [*BY_CODE, *BY_NAME])
            raise click.UsageError(f"no rule `{code}`" + (f" ({hint})" if hint else ""))
        chosen = [r]
    if fmt == "json":
        click.echo(json.dumps([{
            "code": r.code, "name": r.name, "category": r.category,
            "severity": r.severity.value, "fix": r.fix, "default": r.default,
            "summary": r.summary, "rationale": r.rationale, "bad": r.bad, "good": r.good,
        } for r in chosen], indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        click.echo("\n".join(rule_markdown(r) for r in chosen), nl=False)
    elif show_all:
        click.echo(rule_table(chosen), nl=False)
    else:
        click.echo(rule_text(chosen[0]), nl=False)
