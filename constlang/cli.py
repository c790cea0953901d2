"""CLI: thin click commands; library results become clean output and exit codes (0/1/2)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import click

from constlang import __version__
from constlang.cli_options import HELP_OPTIONS
from constlang.errors import Diagnostic, Severity
from constlang.source import SourceFile

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", "runs"}


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
            found: list[Path] = []
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS
                                     and not d.startswith("."))
                found.extend(Path(dirpath) / f for f in filenames if f.endswith(".const"))
            out.extend(sorted(found))
        elif p.exists():
            out.append(p)
        else:
            raise click.UsageError(f"path `{raw}` does not exist")
    return out


def write_output(path: Path, text: str) -> None:
    """Write a whole file atomically; an unwritable path is a one-line error (exit 2)."""
    from constlang.files import atomic_write_text

    try:
        atomic_write_text(path, text)
    except OSError as exc:
        click.echo(f"error: cannot write {path}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_USAGE)


def print_diagnostics(diagnostics: list[Diagnostic], sources: dict[str, SourceFile],
                      fmt: str = "full", err: bool = True) -> None:
    from constlang.report import ansi_style, plain_style, render_text

    stream = sys.stderr if err else sys.stdout
    style = ansi_style if use_color(stream) else plain_style
    text = render_text(diagnostics, sources, style, concise=fmt == "concise")
    if text:
        click.echo(text, err=err, nl=False)


@click.group(context_settings=HELP_OPTIONS)
@click.version_option(__version__, prog_name="constlang")
def cli() -> None:
    """constlang: write AI constitutions as code, check them, and train with them.

    The language tools (check, compile, schema, render, plan, lint, fmt) never load a model.
    """


allow_outside_root_option = click.option(
    "--allow-outside-root", is_flag=True, help="Allow imports of files outside the project root.")


@cli.command(short_help="Check constitutions for errors.")
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

        click.echo(render_json(diagnostics, len(files), "constlang check"), nl=False)
    else:
        from constlang.report import ansi_style, plain_style, render_report

        style = ansi_style if use_color(sys.stdout) else plain_style
        click.echo(render_report(diagnostics, sources, len(files), style, fmt == "concise"),
                   nl=False)
    if any(d.severity is Severity.ERROR for d in diagnostics):
        sys.exit(EXIT_FINDINGS)


def _compile_or_exit(path: str, allow_outside_root: bool = False,
                     consequence: str = "no plan written"):
    from constlang.compile import compile_path

    p = Path(path)
    if not p.is_file():
        raise click.UsageError(f"`{path}` is not a file")
    result = compile_path(p, allow_outside_root=allow_outside_root)
    if result.plan is None:
        print_diagnostics(result.diagnostics, result.sources)
        errors = sum(d.severity is Severity.ERROR for d in result.diagnostics)
        click.echo(f"error: {path} has {errors} error{'s' * (errors != 1)}; {consequence}",
                   err=True)
        sys.exit(EXIT_FINDINGS)
    warnings = [d for d in result.diagnostics if d.severity is not Severity.ERROR]
    if warnings:
        print_diagnostics(warnings, result.sources)
    return result


@cli.command("compile", short_help="Compile a constitution into its training plan.")
@click.argument("path", type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write the plan here instead of standard output.")
@allow_outside_root_option
def compile_cmd(path: str, output: str | None, allow_outside_root: bool) -> None:
    """Compile a constitution into its training plan (JSON, content-hashed)."""
    result = _compile_or_exit(path, allow_outside_root)
    text = result.plan.to_json()
    if output:
        write_output(Path(output), text)
        click.echo(f"wrote {output} ({result.plan.hash})", err=True)
    else:
        click.echo(text, nl=False)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the training plan."""
    from constlang.plan import plan_schema

    click.echo(json.dumps(plan_schema(), indent=2))


@cli.command("render", short_help="Show the prompts a stage sends, without a model.")
@click.argument("path", type=click.Path())
@click.option("--stage", "stage_name", required=True, help="The stage whose prompts to show.")
@click.option("--prompt", "prompt", help="Sample user prompt (default: the dataset's first).")
@click.option("--principle", help="Principle id to render with (default: the first selected).")
@click.option("--question", help="Question id to render with (default: the first selected).")
def render_cmd(path: str, stage_name: str, prompt: str | None, principle: str | None,
               question: str | None) -> None:
    """Show the exact prompts a stage's program sends for a sample input, without a model."""
    from constlang.errors import did_you_mean
    from constlang.preview import SAMPLE_PROMPT, chat_text, first_prompt, render_stage
    from constlang.semantics.templates import TemplateRenderError

    result = _compile_or_exit(path)
    plan = result.plan
    names = [s.name for s in plan.stages]
    if not names:
        raise click.UsageError(f"{path} declares no stages, so there is nothing to render")
    if stage_name not in names:
        hint = did_you_mean(stage_name, names)
        raise click.UsageError(f"no stage `{stage_name}`; stages: {', '.join(names)}"
                               + (f" ({hint})" if hint else ""))
    if stage_name not in [p.stage for p in plan.programs]:
        raise click.UsageError(f"stage `{stage_name}` trains a model and sends no prompts; "
                               "stages with prompts: " + ", ".join(p.stage for p in plan.programs))
    stage = plan.stage(stage_name)
    if principle and principle not in getattr(stage.settings, "principles", []):
        raise click.UsageError(f"stage `{stage_name}` does not sample principle `{principle}`")
    if question and question not in getattr(stage.settings, "questions", []):
        raise click.UsageError(f"stage `{stage_name}` does not ask question `{question}`")
    dataset = getattr(stage.settings, "prompts", None)
    text = prompt
    if text is None:
        text = (dataset and first_prompt(plan, dataset, result.base_dir)) or None
        if text is None:
            text = SAMPLE_PROMPT
            click.echo(f"note: no prompt could be read from dataset `{dataset}`; using a sample "
                       "prompt (pass --prompt to choose one)", err=True)
    try:
        steps = render_stage(plan, stage_name, text, principle, question)
    except TemplateRenderError as exc:
        click.echo(f"error: a template failed to render: {exc}", err=True)
        sys.exit(EXIT_FINDINGS)
    stages = set(names)
    for step in steps:
        caller = f"policy {step.model} (stage)" if step.model in stages else f"model {step.model}"
        click.echo(click.style(f"── {step.step} · template {step.template} · {caller} ──",
                               bold=True))
        click.echo(chat_text(step.messages) + "\n")


@cli.command("plan", short_help="Summarise stages, model calls and tokens.")
@click.argument("path", type=click.Path())
def plan_cmd(path: str) -> None:
    """Summarise a constitution's plan: stages in order and the model work each needs."""
    from constlang.preview import stage_costs

    result = _compile_or_exit(path)
    plan = result.plan
    c = plan.constitution
    click.echo(f"{c.name} {c.version}  ({plan.hash[:19]}…)")
    click.echo(f"  {len(plan.principles)} principles, {len(plan.questions)} questions, "
               f"{len(plan.examples)} examples, {len(plan.models)} models, "
               f"{len(plan.datasets)} datasets, {len(plan.programs)} prompt programs")
    click.echo("")
    click.echo(f"  {'#':>2}  {'stage':<20} {'kind':<18} {'prompts':>7} {'calls':>8} "
               f"{'max tokens':>10}  notes")

    def n(v: int | None) -> str:
        return "?" if v is None else f"{v:,}"

    for i, cost in enumerate(stage_costs(plan, result.base_dir), 1):
        click.echo(f"  {i:>2}  {cost.stage:<20} {cost.kind:<18} {n(cost.prompts):>7} "
                   f"{n(cost.calls):>8} {n(cost.tokens):>10}  {cost.note}")


def _register_optional() -> None:
    """Commands that live in their own modules (each imports its heavy parts lazily)."""
    import importlib

    for module, name in (("constlang.lint.cli", "lint"), ("constlang.lint.cli", "rule"),
                         ("constlang.syntax.fmt_cli", "fmt"),
                         ("constlang.runtime.train_cli", "train")):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("constlang"):
                continue
            raise
        cli.add_command(getattr(mod, name))


_register_optional()


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug in constlang, not in the input
        click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("this is a bug in constlang; please report it with the input file", err=True)
        sys.exit(EXIT_USAGE)
