"""A ppo stage killed with SIGKILL after a checkpoint resumes from it and ends with the same
metrics and the same model as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from constlang.cli.train import train
from constlang.compile import compile_path
from constlang.runtime.ppo.loop import TIMINGS
from constlang.runtime.rundir import RunDir, recover_jsonl

from .helpers import complete_by_hand

STEPS = 6

CONSTITUTION = """constlang 1

constitution "ppo-resume" {{ version = "0.1.0" }}

principle p {{ critique = "c"  revision = "r" }}
question q {{ text = "Which reply is kinder?" }}
model tiny {{ source = "{model}"  max_new_tokens = 4 }}
dataset d {{ path = "p.jsonl" }}

stage feedback {{ policy = tiny  judge = tiny  prompts = d }}
stage reward_model {{ from = feedback }}
stage ppo {{
  policy = tiny  reward = reward_model  prompts = d
  steps = {steps}  batch_size = 4  mini_batch_size = 2  ppo_epochs = 2  max_new_tokens = 5
  checkpoint_every = 2  temperature = 1.0  learning_rate = 1e-3  reward_normalization = "running"
  kl_target = 1.0  kl_horizon = 100
}}
"""


def project(tmp_path: Path, model: Path) -> tuple[Path, Path]:
    """The constitution and a run directory whose reward_model stage is already complete (a
    tiny reward model saved where the stage saves its model)."""

    from constlang.runtime.models import load_model, save_model

    tmp_path.mkdir()
    path = tmp_path / "c.const"
    path.write_text(CONSTITUTION.format(model=model, steps=STEPS), "utf-8")
    (tmp_path / "p.jsonl").write_text("".join(
        json.dumps({"prompt": f"Tell me about topic {i}."}) + "\n" for i in range(6)))
    result = compile_path(path)
    assert result.plan is not None, result.diagnostics
    run = RunDir(tmp_path / "runs")
    torch.manual_seed(0)  # the new score head's weights
    reward = load_model(result.plan.model("tiny"), device="cpu", base_dir=tmp_path,
                        head="reward")
    save_model(reward.model, reward.tokenizer, run.stage("reward_model").model)
    complete_by_hand(run, "reward_model", "reward_model", result.plan.hash)
    return path, run.path


def ppo_rows(run_dir: Path) -> list[dict]:
    """The per-update metrics, without the clock."""
    rows = recover_jsonl(run_dir / "ppo" / "metrics.jsonl")
    return [{k: v for k, v in r.items() if k not in (*TIMINGS, "time")}
            for r in rows if r.get("event") == "ppo"]


def test_sigkill_mid_ppo_then_rerun_matches_an_uninterrupted_run(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    killed_path, killed_run = project(tmp_path / "killed", tiny_model_dir)
    metrics = killed_run / "ppo" / "metrics.jsonl"
    checkpoint = killed_run / "ppo" / "checkpoint"
    env = {**os.environ, "CI": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "constlang", "train", str(killed_path), "--run-dir",
               str(killed_run), "--device", "cpu", "--stages", "ppo"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline and not (
                checkpoint.is_dir() and len(ppo_rows(killed_run)) >= 3):
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    output = proc.stdout.read().decode() if proc.stdout else ""
    assert proc.returncode == -signal.SIGKILL, output
    logged = [r["step"] for r in ppo_rows(killed_run)]
    assert 3 <= len(logged) < STEPS, "the run ended before it could be killed"
    assert json.loads((checkpoint / "ppo_state.json").read_text())["step"] == 2
    assert metrics.exists()

    resumed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming after update 2" in resumed.stderr + resumed.stdout
    manifest = json.loads((killed_run / "ppo" / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["metrics"]["resumed_from"] == 2
    assert not checkpoint.exists()  # removed once the model is saved

    reference_path, reference_run = project(tmp_path / "reference", tiny_model_dir)
    result = CliRunner().invoke(train, [str(reference_path), "--run-dir", str(reference_run),
                                        "--device", "cpu", "--stages", "ppo"])
    assert result.exit_code == 0, result.output
    got, want = ppo_rows(killed_run), ppo_rows(reference_run)
    assert [r["step"] for r in got] == list(range(1, STEPS + 1))  # every update once
    assert len(want) == STEPS
    for a, b in zip(got, want, strict=True):
        assert a.keys() == b.keys()
        for key in a.keys() - {"event"}:
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6, nan_ok=True), \
                (a["step"], key)
    assert got[-1]["kl_coef"] != 0.05  # the adaptive coefficient moved and was restored
    from safetensors.torch import load_file

    trained = load_file(killed_run / "ppo" / "model" / "model.safetensors")
    expected = load_file(reference_run / "ppo" / "model" / "model.safetensors")
    assert trained.keys() == expected.keys()
    assert all(torch.allclose(trained[k], expected[k], atol=1e-6) for k in trained)
    start = load_file(tiny_model_dir / "model.safetensors")
    assert not all(torch.equal(trained[k], start[k]) for k in trained)  # it did train
