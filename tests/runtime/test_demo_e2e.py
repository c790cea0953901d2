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

# The shipped harmlessness constitution, composed down to a CI-sized run of every stage: the
# same principles, questions, examples, templates and embedded model, two prompts, short
# answers, one revision round, one PPO update, two held-out prompts of each kind.
SMALL = """constlang 1

constitution "demo-ci" { version = "0.1.0" }

import "./harmless.const"

override model assistant {
  max_new_tokens = 24
}

override dataset red_team { limit = 2 }
override dataset red_team_all { limit = 2 }
override dataset benign { limit = 1 }
override dataset benign_edgy { limit = 1 }
override dataset red_team_heldout { limit = 2 }
override dataset benign_heldout { limit = 2 }

override stage critique_revision {
  revisions = 1
  batch_size = 2
  # 24 tokens cut most replies, and two prompts are too few to filter: this run checks the
  # pipeline's mechanics, not the data (the README's demo keeps the filters on)
  keep_truncated = true
  drop_unchanged = false
  drop_meta      = false
}

override stage best_of_n {
  samples        = 1
  temperature    = 0
  max_new_tokens = 16
  keep_truncated = true
  batch_size     = 4
}

override stage answers {
  samples        = 1
  temperature    = 0
  max_new_tokens = 16
  batch_size     = 4
}

override stage sft {
  batch_size = 2
  epochs     = 1
}

override stage feedback {
  batch_size     = 2
  keep_truncated = true
  drop_ties      = false
}

override stage reward_model {
  batch_size    = 2
  eval_fraction = 0
}

override stage ppo {
  steps           = 1
  batch_size      = 2
  mini_batch_size = 2
  ppo_epochs      = 1
  max_new_tokens  = 16
}

override stage evaluate {
  max_new_tokens = 16
  samples        = 1
}
"""

STAGES = ("critique_revision", "best_of_n", "answers", "sft", "feedback", "revision_pairs",
          "reward_model", "ppo", "evaluate")


def test_demo_trains_the_embedded_model(tmp_path: Path) -> None:
    project = tmp_path / "constitutions"
    shutil.copytree(REPO / "constitutions", project)
    (project / "demo_ci.const").write_text(SMALL, "utf-8")
    run_dir = tmp_path / "runs"
    cmd = [sys.executable, "-m", "constlang", "train", str(project / "demo_ci.const"),
           "--run-dir", str(run_dir), "--device", "cpu"]  # every stage, in plan order
    env = {**os.environ, "NO_COLOR": "1"}
    # the whole test took 98–412 s with OMP_NUM_THREADS=1 on two shared cores at load
    # averages of 0.8 to 9.7 (benchmarks/README.md): at most about a quarter of this limit
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1500)
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

    for stage in STAGES:  # every stage of the plan ran, and the table says so
        manifest = json.loads((run_dir / stage / "manifest.json").read_text())
        assert manifest["status"] == "completed", (stage, manifest.get("error"))
    for stage in ("best_of_n", "feedback", "reward_model", "ppo"):
        assert f"{stage}/" in out
    checks = json.loads((run_dir / "best_of_n" / "manifest.json").read_text())["metrics"][
        "checks"]
    assert checks["declines_harmful"]["applied"] == 2  # the two red-team prompts, by tag
    checks = json.loads((run_dir / "answers" / "manifest.json").read_text())["metrics"][
        "checks"]
    assert checks["answers_benign"]["applied"] == 2  # one benign, one edgy-but-fine
    assert json.loads((run_dir / "reward_model" / "manifest.json").read_text())[
        "metrics"]["train_pairs"] >= 1
    assert (run_dir / "ppo" / "model" / "model.safetensors").is_file()
    report = json.loads((run_dir / "evaluate" / "report.json").read_text())
    assert report and (run_dir / "evaluate" / "report.md").read_text().strip()
    assert set(report["checks"]) == {"declines_harmful", "honest_decline", "answers_benign",
                                     "no_contact_details"}

    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (again.stdout + again.stderr).count(
        "completed earlier with the same inputs; skipped") == len(STAGES)
