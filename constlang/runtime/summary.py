"""Runner, the end of a run: one table row per stage — status, time, headline metrics (worded
by each kind's runner), and where its artefacts are."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from constlang.runtime.rundir import RunDir
from constlang.runtime.stages import runner_for
from constlang.runtime.stages.base import first_numbers


def headline(kind: str, metrics: dict[str, Any]) -> str:
    """The few numbers that say how a stage went, as its kind's runner words them (a kind
    without a runner, or an older manifest's shape: its first three numbers)."""
    if not metrics:
        return "-"
    runner = runner_for(kind)
    try:
        return (runner.headline if runner else first_numbers)(metrics)
    except (TypeError, ValueError, AttributeError, KeyError):  # an older manifest's shape
        return first_numbers(metrics)


def summary_table(run: RunDir, outcomes: list[Any]) -> Table:
    """The run's stages as a table: stage (and kind when the name is not it), status,
    seconds, headline, and the stage's folder inside the run directory (the title)."""
    # the run directory and stage names are the user's text: Text objects, never markup
    table = Table(title=Text(f"run {run.path}"), title_justify="left", show_edge=False)
    for column in ("stage", "status", "time", "key metrics", "folder"):
        table.add_column(column, overflow="fold")
    for o in outcomes:
        manifest = run.stage(o.name).read_manifest()
        seconds = (manifest.timings or {}).get("total_s") if manifest else None
        table.add_row(Text(o.name if o.name == o.kind else f"{o.name} ({o.kind})"),
                      o.status.replace("_", " "),
                      f"{seconds:.0f} s" if isinstance(seconds, int | float) else "-",
                      Text(headline(o.kind, o.metrics)), Text(f"{o.name}/"))
    return table
