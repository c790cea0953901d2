"""`constlang train --dry-run`: a summary by default (the first prompt of each step), every
prompt of the first batch with --verbose (issue #20). Loads no model, so it runs on the demo."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from constlang.cli.train import train
from constlang.runtime.dry_run import first_of_each_step, step_of

DEMO = Path(__file__).resolve().parents[2] / "constitutions" / "harmless.const"


@pytest.mark.parametrize(("title", "step"), [
    ("critique_revision · prompt rt-001 · respond", "critique_revision · respond"),
    ("critique_revision · prompt rt-002 · critique (round 1, principle honesty)",
     "critique_revision · critique"),
    ("feedback · prompt a · b · compare (question q) (also scored swapped)",
     "feedback · b · compare"),
    ("evaluate · benign · prompt bnh-003 · respond (every model)", "evaluate · benign · respond"),
    ("a title without a row", "a title without a row"),
])
def test_step_of_drops_the_row_and_the_details(title: str, step: str) -> None:
    assert step_of(title) == step


def test_first_of_each_step_keeps_order() -> None:
    rendered = [(f"s · prompt {i} · {step}", [{"role": "user", "content": f"{i}{step}"}])
                for i in (1, 2) for step in ("respond", "critique (round 1)", "revise")]
    assert [t for t, _ in first_of_each_step(rendered)] == [
        "s · prompt 1 · respond", "s · prompt 1 · critique (round 1)", "s · prompt 1 · revise"]


def dry(tmp_path: Path, *args: str) -> str:
    result = CliRunner().invoke(train, [str(DEMO), "--dry-run", "--run-dir",
                                        str(tmp_path / "runs"), *args])
    assert result.exit_code == 0, result.output
    return result.output


def titles(out: str) -> list[str]:
    return [line.strip("─ ") for line in out.splitlines() if line.startswith("─")]


def test_the_demo_dry_run_is_a_summary_unless_verbose(tmp_path: Path) -> None:
    short, full = dry(tmp_path), dry(tmp_path, "--verbose")
    assert len(short.splitlines()) * 5 < len(full.splitlines()), (len(short.splitlines()),
                                                                  len(full.splitlines()))
    # the same summary head (plan, run directory, a line per stage)
    head = full.split("\n─", 1)[0]
    assert short.startswith(head) and "critique_revision (critique_revision): " in head
    # the first prompt of each step, in the verbose view's order, and the count of the rest
    shown, every = titles(short), titles(full)
    assert shown == [t for t in every if t in shown] and len(set(shown)) == len(shown)
    assert {step_of(t.rstrip("…")).split(" (")[0] for t in shown} >= {
        "critique_revision · respond", "critique_revision · critique",
        "critique_revision · revise", "feedback · respond", "feedback · compare",
        "ppo · respond", "evaluate · harmful · respond", "evaluate · benign · respond"}
    left = re.search(r"(\d+) more prompts of the first batch left out .*--verbose shows them",
                     short)
    assert left and int(left.group(1)) == len(every) - len(shown)
    assert "left out" not in full and "rt-002" in full and "rt-002" not in short


def test_verbose_needs_dry_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(train, [str(DEMO), "--verbose"])
    assert result.exit_code == 2 and "--verbose changes what --dry-run shows" in result.output
