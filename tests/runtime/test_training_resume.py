"""A reward-model run killed with SIGKILL mid-training continues from its last checkpoint and
ends with the same model as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from constlang.cli.train import train
from constlang.compile import compile_path
from constlang.runtime.rundir import RunDir

from .helpers import finished_critique_revision

PAIRS = 24

CONSTITUTION = """constlang 1
constitution "train-resume" {{ version = "0.1.0" }}
principle p {{ critique = "c"  revision = "r" }}
model tiny {{ source = "{model}" }}
dataset d {{ path = "prompts.jsonl" }}
stage critique_revision {{ model = tiny  prompts = d }}
stage revision_pairs {{ from = critique_revision }}
stage reward_model {{
  from = revision_pairs  batch_size = 2  max_length = 64  eval_fraction = 0.25
  epochs = 3  checkpoint_every = 1
}}
"""


def prepare(folder: Path, model: Path) -> Path:
    """A project whose critique_revision stage is already done (rows written by hand)."""
    folder.mkdir()
    path = folder / "c.const"
    path.write_text(CONSTITUTION.format(model=model), "utf-8")
    (folder / "prompts.jsonl").write_text('{"prompt": "hi"}\n', "utf-8")
    plan = compile_path(path).plan
    assert plan is not None
    finished_critique_revision(RunDir(folder / "runs"), plan.hash, [
        (f"Question number {i}?", f"Go away {i}.", f"Here is a careful, kind answer {i}.")
        for i in range(PAIRS)])
    return path


def args(path: Path) -> list[str]:
    return [str(path), "--run-dir", str(path.parent / "runs"), "--device", "cpu",
            "--stages", "revision_pairs,reward_model"]


def heldout(path: Path) -> list[dict]:
    text = (path.parent / "runs" / "reward_model" / "heldout.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_sigkill_during_reward_training_resumes_from_the_last_checkpoint(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    straight = prepare(tmp_path / "straight", tiny_model_dir)
    result = CliRunner().invoke(train, args(straight))
    assert result.exit_code == 0, result.output

    killed = prepare(tmp_path / "killed", tiny_model_dir)
    trainer = killed.parent / "runs" / "reward_model" / "trainer"
    proc = subprocess.Popen([sys.executable, "-m", "constlang", "train", *args(killed)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "CI": "1"})
    try:
        deadline = time.monotonic() + 300
        # the first checkpoint is complete once its trainer_state.json is written (last)
        while (not list(trainer.glob("checkpoint-*/trainer_state.json"))
               and proc.poll() is None and time.monotonic() < deadline):
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stdout.read().decode() if proc.stdout else ""
    manifest = json.loads((killed.parent / "runs" / "reward_model" / "manifest.json").read_text())
    assert manifest["status"] == "running"

    again = CliRunner().invoke(train, args(killed))
    assert again.exit_code == 0, again.output
    said = " ".join(again.output.split())
    assert "the last run was interrupted; continuing from its last checkpoint (checkpoint-" \
        in said
    assert "stage `revision_pairs`: completed earlier with the same inputs; skipped" in said
    manifest = json.loads((killed.parent / "runs" / "reward_model" / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["metrics"]["steps"] == 27  # 18 pairs, 9 steps per epoch, 3 epochs
    assert not trainer.exists()  # the scratch folder goes once the model is saved
    # the killed run logged step 1 and saved checkpoint-1 or later; the resumed run started
    # after it, so step 1 was trained (and logged) once
    logged = [json.loads(line) for line in
              (killed.parent / "runs" / "reward_model" / "metrics.jsonl").open()]
    steps = [e["step"] for e in logged if e["event"] == "train" and "loss" in e]
    assert steps.count(1) == 1 and steps[-1] == 27
    # the same data order, optimizer state and RNG: the same model as the run never killed
    ours, theirs = heldout(killed), heldout(straight)
    assert [h["index"] for h in ours] == [h["index"] for h in theirs]
    for a, b in zip(ours, theirs, strict=True):
        assert a["reward_chosen"] == pytest.approx(b["reward_chosen"], abs=1e-4)
        assert a["reward_rejected"] == pytest.approx(b["reward_rejected"], abs=1e-4)
