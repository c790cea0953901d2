"""Text the user controls (row ids, the run directory, names) printed through rich is shown as
is, never read as markup (issue #17, class 9): `train --dry-run`, the run's summary table and
the stages' progress bars."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from rich.console import Console

from constlang.cli import cli
from constlang.runtime.rundir import RunDir
from constlang.runtime.runner import StageOutcome
from constlang.runtime.stages.base import StageContext
from constlang.runtime.summary import summary_table

MARKUP = ["[/x]", "[/]", "[bold]", "[bold red]x[/bold red", "[link=https://example.com]x",
          "\\[b]", "[@click=quit]", "a[/b]c[d]"]

CONSTITUTION = """constlang 1
constitution "markup" { version = "0.1.0" }
principle p { critique = "Say what is wrong." revision = "Rewrite it." }
question better { text = "Which reply is better?" }
model m { source = "embedded:smollm2-135m-instruct" max_new_tokens = 4 }
dataset d { path = "data.jsonl" }
stage critique_revision { model = m prompts = d }
stage feedback { policy = m judge = m prompts = d questions = [better] }
stage evaluate { baseline = m judge = m harmful = d }
"""


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, force_terminal=True, color_system=None), out


@pytest.mark.parametrize("ident", MARKUP)
def test_dry_run_shows_row_ids_as_written(tmp_path: Path, ident: str) -> None:
    (tmp_path / "main.const").write_text(CONSTITUTION, "utf-8")
    (tmp_path / "data.jsonl").write_text(json.dumps({"prompt": "hi", "id": ident}) + "\n",
                                         "utf-8")
    result = CliRunner().invoke(cli, ["train", str(tmp_path / "main.const"), "--dry-run",
                                      "--run-dir", str(tmp_path / ident)])
    assert result.exit_code == 0, result.output
    for kind in ("critique_revision", "feedback", "evaluate"):
        assert f"prompt {ident} · " in result.output, kind
    assert f"run directory: {tmp_path / ident}" in result.output


@pytest.mark.parametrize("text", MARKUP)
def test_the_summary_table_shows_the_run_directory_as_written(text: str) -> None:
    con, out = console()
    con.print(summary_table(RunDir(Path(text)), [StageOutcome("sft", "sft", "completed")]))
    assert f"run {Path(text)}" in out.getvalue()  # a path folds // into /


@pytest.mark.parametrize("text", MARKUP)
def test_a_progress_bar_shows_its_description_as_written(
        text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)  # the bar is hidden under CI
    con, out = console()
    ctx = StageContext(plan=None, stage=SimpleNamespace(name="s"),  # type: ignore[arg-type]
                       base_dir=Path("."), run=RunDir(Path("runs")), console=con, device="cpu")
    with ctx.progress(f"replies of {text}", total=2) as update:
        update(advance=1)
    assert f"s: replies of {text}" in out.getvalue()
