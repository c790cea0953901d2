"""Several processes: the ppo stage launched by torchrun as two CPU processes (gloo), as
docs/scale.md says to run it — one table, one manifest, one set of metrics, the work shared —
and a stage that runs in one process refusing to run twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from constlang.cli.train import train

from .helpers import write_whole_method

UPSTREAM = "critique_revision,sft,feedback,revision_pairs,reward_model"


def launch(path: Path, stages: str, run_dir: Path) -> subprocess.CompletedProcess[str]:
    """`torchrun --standalone --nproc_per_node 2 -m constlang train ...` (a free port each)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "constlang", "train", str(path), "--stages", stages, "--run-dir", str(run_dir),
         "--device", "cpu"],
        capture_output=True, text=True, timeout=600, env={**env, "NO_COLOR": "1"},
        cwd=path.parent)


def test_ppo_runs_as_two_processes_and_writes_its_stage_once(tmp_path: Path,
                                                              tiny_model_dir: Path) -> None:
    path = write_whole_method(tmp_path, tiny_model_dir)
    run_dir = tmp_path / "runs"
    upstream = CliRunner().invoke(train, [str(path), "--stages", UPSTREAM, "--run-dir",
                                          str(run_dir), "--device", "cpu"])
    assert upstream.exit_code == 0, upstream.output

    done = launch(path, "ppo", run_dir)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert sum(line.startswith("run ") for line in lines) == 1  # one table
    assert done.stdout.count("│ completed") == 1
    assert done.stdout.count("stage `ppo`: saved") == 1  # the other process stays silent
    manifest = json.loads((run_dir / "ppo" / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["metrics"]["processes"] == 2  # the accelerator saw both
    assert manifest["metrics"]["distribution"] == "MULTI_CPU"  # DDP over gloo
    assert manifest["metrics"]["rollouts"] == 2  # batch_size: 1 prompt per process
    events = [json.loads(line)["event"] for line in
              (run_dir / "ppo" / "metrics.jsonl").read_text().splitlines()]
    assert events == ["ppo", "completed"]  # one update, logged once
    assert (run_dir / "ppo" / "model" / "model.safetensors").is_file()
    assert not (run_dir / "ppo" / "checkpoint").exists()


def test_two_ppo_stages_share_one_launch(tmp_path: Path, tiny_model_dir: Path) -> None:
    path = write_whole_method(tmp_path, tiny_model_dir)
    text = path.read_text("utf-8") + (
        "stage ppo_again {\n  kind = ppo  policy = sft  reward = reward_model  prompts = prompts"
        "\n  steps = 1  batch_size = 2  mini_batch_size = 2  ppo_epochs = 1  max_new_tokens = 4"
        "\n}\n")
    path.write_text(text, "utf-8")
    run_dir = tmp_path / "runs"
    upstream = CliRunner().invoke(train, [str(path), "--stages", UPSTREAM, "--run-dir",
                                          str(run_dir), "--device", "cpu"])
    assert upstream.exit_code == 0, upstream.output
    done = launch(path, "ppo,ppo_again", run_dir)  # the second needs the process group too
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for stage in ("ppo", "ppo_again"):
        manifest = json.loads((run_dir / stage / "manifest.json").read_text())
        assert manifest["status"] == "completed" and manifest["metrics"]["processes"] == 2


def test_a_one_process_stage_refuses_to_run_under_a_launcher(tmp_path: Path,
                                                             tiny_model_dir: Path) -> None:
    path = write_whole_method(tmp_path, tiny_model_dir)
    done = launch(path, "critique_revision", tmp_path / "runs")
    assert done.returncode != 0
    line = ("error: stage `critique_revision` (critique_revision) runs in one process, but this "
            "is one of 2 processes started by a launcher")
    lines = (done.stdout + done.stderr).splitlines()
    assert sum(x.startswith(line) for x in lines) == 1  # the first process
    assert sum(x.startswith(f"[rank 1] {line}") for x in lines) == 1  # the other says who
    assert not (tmp_path / "runs" / "critique_revision" / "manifest.json").exists()
