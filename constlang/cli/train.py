"""CLI `train`: compile a constitution and run its stages into a run directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from constlang.cli.plan_input import is_plan_file, load_plan_file
from constlang.cli.shared import allow_outside_root_option, command, compile_or_fail
from constlang.errors import EXIT_FINDINGS, UsageError, UserError


def parse_sets(values: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """`stage.key=value` pairs as {stage: {key: value}}; values are JSON when they parse."""
    out: dict[str, dict[str, Any]] = {}
    for item in values:
        target, sep, raw = item.partition("=")
        stage, dot, key = target.strip().partition(".")
        if not sep or not dot or not stage or not key:
            raise click.UsageError(f"--set `{item}`: expected STAGE.KEY=VALUE, "
                                   "e.g. critique_revision.revisions=2")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        out.setdefault(stage, {})[key] = value
    return out


TRAINING_MODULES = ("torch", "transformers", "trl", "accelerate", "datasets", "peft", "gguf")


def require_training_extras() -> None:
    """Stop with the install command when the `train` extra is missing (not a traceback)."""
    import importlib.util

    missing = [m for m in TRAINING_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"`constlang train` needs {', '.join(missing)}, which are not "
                         "installed: run `pip install torch` (the build for your machine, see "
                         "the README), then `pip install 'constlang[train]'`; --dry-run works "
                         "without them")


@command("train", short_help="Run a constitution's training stages.")
@click.argument("path", type=click.Path(), metavar="PATH")
@click.option("--stages", "stages_opt", metavar="A,B",
              help="Only these stages, comma-separated (default: all, in plan order).")
@click.option("--run-dir", type=click.Path(file_okay=False),
              help="Where artifacts go (default: runs/<constitution name>).")
@click.option("--set", "sets", multiple=True, metavar="STAGE.KEY=VALUE",
              help="Override a stage setting for this run (repeatable); VALUE is JSON or text.")
@click.option("--dry-run", is_flag=True,
              help="Show the plan and the first prompt of each step; load no model, write "
                   "nothing.")
@click.option("--verbose", is_flag=True,
              help="With --dry-run: show every prompt of each stage's first batch.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Where models run.")
@allow_outside_root_option
def train(path: str, stages_opt: str | None, run_dir: str | None, sets: tuple[str, ...],
          dry_run: bool, verbose: bool, device: str, allow_outside_root: bool) -> None:
    """Run a constitution's training stages in plan order.

    PATH is a .const file, or a plan compiled with `constlang compile FILE -o plan.json`
    (its relative paths start from the project root above it). Each stage writes
    runs/<name>/<stage>/ with a manifest.json; a completed stage with the same inputs is
    skipped, an interrupted one resumes. The run ends with a table of every stage: status,
    time, key metrics and where its artefacts are.

    Exit status: 0 when every selected stage is done, 1 when a stage failed or is not
    implemented yet (or the constitution has errors), 2 on usage errors.
    """
    from rich.console import Console

    # the runtime is imported here, not at the top, so the other commands start without it
    from constlang.runtime.overrides import OverrideError
    from constlang.runtime.runner import run_plan

    if verbose and not dry_run:
        raise click.UsageError("--verbose changes what --dry-run shows: add --dry-run")
    overrides = parse_sets(sets)
    if not dry_run:
        require_training_extras()
    if is_plan_file(path):  # a compiled plan: `constlang compile FILE.const -o plan.json`
        loaded = load_plan_file(path, allow_outside_root)
        plan, base_dir = loaded.plan, loaded.base_dir
    else:
        result = compile_or_fail(path, allow_outside_root, consequence="nothing was trained")
        assert result.plan is not None
        plan, base_dir = result.plan, result.base_dir
    if not plan.stages:
        raise click.UsageError(f"{path} declares no stages, so there is nothing to train; "
                               "add a `stage critique_revision { ... }`")
    stages = [s.strip() for s in stages_opt.split(",") if s.strip()] if stages_opt else None
    target = Path(run_dir) if run_dir else Path("runs") / plan.constitution.name
    from constlang.runtime.processes import is_main

    # with a launcher's several processes, only the first prints (the others work silently)
    console = Console(soft_wrap=True, highlight=False, quiet=not is_main())
    try:
        outcome = run_plan(plan, base_dir=base_dir, run_dir=target, stages=stages,
                           overrides=overrides, dry_run=dry_run, console=console, device=device,
                           verbose=verbose)
    except OverrideError as exc:  # shown with the usage line, like click's own errors
        raise click.UsageError(str(exc)) from None
    except OSError as exc:  # the run directory (or a file in it) cannot be written
        where = exc.filename or target
        raise UserError(f"cannot write {where}: {exc.strerror or exc}") from None
    if dry_run:
        return
    from constlang.runtime.rundir import RunDir
    from constlang.runtime.summary import summary_table

    console.print()
    console.print(summary_table(RunDir(target), outcome.stages))
    if not outcome.complete:
        sys.exit(EXIT_FINDINGS)
