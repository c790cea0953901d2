"""Hostile inputs of issue #17 for the surfaces a run reads: plan files given to `train`, and
run directories a run resumes from. tests/test_hostile.py runs them as real processes with
the cases of tests/hostile_cases.py; in-process variants are in tests/test_plan_input.py and
tests/runtime/test_rundir_guard.py."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hostile_cases import DATA, SECRET, Case, constitution

from constlang.compile import compile_path


def _plan(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    """Set-up: compile main.const into plan.json (without its hash), edited by `edit`, and a
    folder beside the project holding a secret."""
    def make(root: Path) -> None:
        outside = root.parent / "outside"
        outside.mkdir(exist_ok=True)
        (outside / "rows.jsonl").write_text(json.dumps({"prompt": SECRET}) + "\n", "utf-8")
        result = compile_path(root / "main.const")
        assert result.plan is not None, result.diagnostics
        data = json.loads(result.plan.to_json())
        del data["hash"]
        edit(data)
        (root / "plan.json").write_text(json.dumps(data), "utf-8")
    return make


def _stage_name(name: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data["stages"][0]["name"] = name
        data["programs"][0]["stage"] = name
    return edit


def _dataset(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data["datasets"][0]["path"] = path
    return edit


def _nothing_outside(root: Path) -> None:
    around = sorted(p.name for p in root.parent.iterdir())
    assert set(around) <= {"outside", "project", "stdin", "output", "report"}, around
    assert [p.name for p in (root.parent / "outside").iterdir()] == ["rows.jsonl"]


def _manifest(kind: str) -> Callable[[Path], None]:
    """A stage folder whose manifest.json is a FIFO, or a link to a device."""
    def make(root: Path) -> None:
        folder = root / "runs" / "hostile" / "critique_revision"
        folder.mkdir(parents=True)
        if kind == "fifo":
            os.mkfifo(folder / "manifest.json")
        else:
            (folder / "manifest.json").symlink_to("/dev/zero")
    return make


FILES = {"main.const": constitution(), "data.jsonl": DATA}

RUN_CASES: list[Case] = [
    *[Case(f"plan-stage-name-{i}", argv, FILES, setup=_plan(_stage_name(name)), expect=(1,),
           after=_nothing_outside)
      for i, name in enumerate(["../../../escape", "/tmp/constlang-escape", ".."])
      for argv in (["train", "plan.json"], ["train", "plan.json", "--dry-run"])],
    Case("plan-constitution-name", ["train", "plan.json"], FILES, expect=(1,),
         setup=_plan(lambda d: d["constitution"].update(name="../../escape")),
         after=_nothing_outside),
    *[Case(f"plan-dataset-outside-{i}", ["train", "plan.json", "--dry-run"], FILES,
           setup=_plan(_dataset(path)), forbid=(SECRET,), expect=(1,))
      for i, path in enumerate(["../outside/rows.jsonl", "/etc/passwd",
                                "sub/../../outside/rows.jsonl"])],
    Case("plan-future-format", ["train", "plan.json", "--dry-run"], FILES, expect=(1,),
         setup=_plan(lambda d: d.update(format_version=99))),
    Case("plan-duplicate-stage", ["train", "plan.json", "--dry-run"], FILES, expect=(1,),
         setup=_plan(lambda d: d["stages"].append(d["stages"][0]))),
    *[Case(f"rundir-manifest-{kind}", ["train", "main.const", "--stages", "critique_revision"],
           FILES, setup=_manifest(kind), expect=(1,))
      for kind in ("fifo", "device-link")],
]
