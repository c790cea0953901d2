"""A critique_revision run killed with SIGKILL resumes without losing or duplicating rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from constlang.cli.train import train

PROMPTS = 12

CONSTITUTION = """constlang 1

constitution "resume-test" {{ version = "0.1.0" }}

principle harm {{ critique = "Find the harm."  revision = "Remove the harm." }}
principle tone {{ critique = "Find the sermon."  revision = "Drop the sermon." }}
model tiny {{ source = "{model}"  max_new_tokens = 4  temperature = 0 }}
dataset d {{ path = "p.jsonl" }}

stage critique_revision {{
  model = tiny  prompts = d  keep_truncated = true  revisions = 1  batch_size = 1
}}
"""


def complete_lines(path: Path) -> bytes:
    raw = path.read_bytes() if path.exists() else b""
    return raw[: raw.rfind(b"\n") + 1]


def run_in_process(path: Path, run_dir: Path) -> str:
    result = CliRunner().invoke(train, [str(path), "--run-dir", str(run_dir), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return result.output


def test_sigkill_then_rerun_gives_every_row_once(tmp_path: Path, tiny_model_dir: Path) -> None:
    path = tmp_path / "c.const"
    path.write_text(CONSTITUTION.format(model=tiny_model_dir), "utf-8")
    (tmp_path / "p.jsonl").write_text("".join(
        json.dumps({"prompt": f"Tell me about topic {i}."}) + "\n" for i in range(PROMPTS)))
    run_dir = tmp_path / "killed"
    rows = run_dir / "critique_revision" / "rows.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "constlang", "train", str(path), "--run-dir", str(run_dir),
         "--device", "cpu"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "CI": "1"})
    try:
        deadline = time.monotonic() + 120
        while not complete_lines(rows) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stdout.read().decode() if proc.stdout else ""
    before = complete_lines(rows)
    done_before = [json.loads(line)["index"] for line in before.splitlines()]
    assert 1 <= len(done_before) < PROMPTS, "the run ended before it could be killed"
    manifest = json.loads((run_dir / "critique_revision" / "manifest.json").read_text())
    assert manifest["status"] == "running"

    output = run_in_process(path, run_dir)
    assert "the last run was interrupted; continuing from what it saved" in output
    after = rows.read_bytes()
    assert after.startswith(before)  # rows written before the kill are kept byte for byte
    indices = [json.loads(line)["index"] for line in after.splitlines()]
    assert sorted(indices) == list(range(PROMPTS))  # every index exactly once
    manifest = json.loads((run_dir / "critique_revision" / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["metrics"]["resumed_rows"] == len(done_before)
    assert {k: manifest["metrics"][k] for k in ("prompts", "revisions", "skipped_revisions")} \
        == {"prompts": PROMPTS, "revisions": PROMPTS, "skipped_revisions": 0}  # 1 round each

    # chunks are seeded by their position, so the resumed file equals an uninterrupted run
    reference = tmp_path / "reference"
    run_in_process(path, reference)
    assert after == (reference / "critique_revision" / "rows.jsonl").read_bytes()
