"""End to end: the README demo (`constlang train` on a shipped constitution), embedded model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[2]

# The shipped harmlessness constitution, composed down to a CI-sized run: the same principles,
# examples, templates and embedded model, two prompts, short answers, one revision round.
SMALL = """constlang 1

constitution "demo-ci" { version = "0.1.0" }

import "./harmless.const"

override model assistant {
  max_new_tokens = 24
}

override dataset red_team {
  limit = 2
}

override stage critique_revision {
  revisions = 1
  batch_size = 2
  # 24 tokens cut most replies, and two prompts are too few to filter: this run checks the
  # pipeline's mechanics, not the data (the README's demo keeps the filters on)
  keep_truncated = true
  drop_unchanged = false
  drop_meta      = false
}

override stage sft {
  batch_size = 2
}
"""


def test_demo_trains_the_embedded_model(tmp_path: Path) -> None:
    project = tmp_path / "constitutions"
    shutil.copytree(REPO / "constitutions", project)
    (project / "demo_ci.const").write_text(SMALL, "utf-8")
    run_dir = tmp_path / "runs"
    cmd = [sys.executable, "-m", "constlang", "train", str(project / "demo_ci.const"),
           "--stages", "critique_revision,sft", "--run-dir", str(run_dir), "--device", "cpu"]
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "before:" in out and "after" in out  # the run shows what changed

    rows = [json.loads(line) for line in
            (run_dir / "critique_revision" / "rows.jsonl").read_text().splitlines()]
    assert sorted(r["index"] for r in rows) == [0, 1]
    harmless = {p.split()[1] for p in (project / "harmless.const").read_text().splitlines()
                if p.startswith("principle ")}
    for row in rows:
        assert len(row["rounds"]) == 1
        assert row["rounds"][0]["principle"] in harmless
        assert row["initial"].strip() and row["final"].strip()
        assert row["messages"][-1] == {"role": "assistant", "content": row["final"]}

    model_dir = run_dir / "sft" / "model"
    assert (model_dir / "model.safetensors").is_file()
    card = (model_dir / "README.md").read_text()
    plan_hash = json.loads((run_dir / "sft" / "manifest.json").read_text())["plan_hash"]
    assert plan_hash in card and "demo-ci" in card

    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (again.stdout + again.stderr).count(
        "completed earlier with the same inputs; skipped") == 2  # critique_revision and sft
