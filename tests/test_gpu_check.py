"""The GPU check (benchmarks/gpu/run.py) runs with --device cpu on tiny models, so it does not
rot between the rare runs on a GPU: every step gets a status and its figures, a failing step
makes the exit status non-zero without stopping the others, and the budgets fit 8 minutes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu" / "run.py"
STEPS = ("env", "cuda_tests", "train", "ppo_accelerate", "judge", "generate", "ppo_vs_trl",
         "sft_vs_trl", "reward_vs_trl")


def check(out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--out", str(out),
                           "--budget-scale", "3", *options], cwd=ROOT, env=env, text=True,
                          capture_output=True, check=False)


def test_the_whole_check_runs_on_cpu_and_records_every_step(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("trl")
    proc = check(tmp_path)
    log = (tmp_path / "log.txt").read_text()
    assert proc.returncode == 0, proc.stdout + log[-5000:]
    found = json.loads((tmp_path / "figures.json").read_text())
    assert found["device"] == "cpu" and tuple(found["steps"]) == STEPS
    for name, step in found["steps"].items():
        assert step["status"] in ("passed", "skipped"), (name, step)
        assert step["seconds"] > 0 and step["budget_s"] > 0
        if step["status"] == "passed":
            assert step["figures"], name
    stages = found["steps"]["train"]["figures"]["stages"]
    assert len(stages) == 11 and all(s["status"] == "completed" for s in stages.values())
    assert stages["dpo"]["compute_dtype"] == "float32" and stages["dpo"]["device"] == "cpu"
    assert found["steps"]["ppo_accelerate"]["figures"]["processes"] == 1
    assert found["steps"]["judge"]["figures"]["targets_met"].keys() == {
        "speedup_ge_5x", "scorer_le_1.2x_forward"}
    for name in STEPS:  # the summary table lists every step, the log every step's output
        assert name in proc.stdout and f"===== {name}" in log


def test_a_failing_step_fails_the_check_and_the_next_step_still_runs(tmp_path: Path) -> None:
    proc = check(tmp_path, "--only", "env,cuda_tests", "--fail", "env")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    steps = json.loads((tmp_path / "figures.json").read_text())["steps"]
    assert steps["env"]["status"] == "failed" and "injected" in steps["env"]["error"]
    assert steps["cuda_tests"]["status"] == "passed"
    assert "FAILED: env" in proc.stdout


def test_the_budgets_on_one_gpu_leave_room_for_the_set_up_in_8_minutes() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check_run", SCRIPT)
    assert spec and spec.loader
    run = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = run  # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(run)
    finally:
        del sys.modules[spec.name]
    assert tuple(s.name for s in run.STEPS) == STEPS
    assert run.CUDA_TOTAL_S <= 8 * 60 - 30


def load_steps() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check_steps", SCRIPT.parent / "steps.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_on_a_gpu_a_training_stage_must_record_float32_weights_under_bf16_autocast() -> None:
    steps = load_steps()
    good = {"device": "cuda", "gpu": "NVIDIA H200", "peak_gpu_memory_mib": 812.5,
            "weights_dtype": "float32", "mixed_precision": "bf16", "compute_dtype": "bfloat16"}
    assert steps.record_problems("sft", {"resources": good}, cuda=True) == []
    assert steps.record_problems("evaluate", {"resources": {
        "device": "cuda:0", "peak_gpu_memory_mib": 100.0}}, cuda=True) == []
    bf16_weights = {**good, "weights_dtype": "bfloat16"}
    assert steps.record_problems("ppo", {"resources": bf16_weights}, cuda=True) == [
        "ppo: weights_dtype is 'bfloat16', expected 'float32'"]
    no_autocast = {**good, "compute_dtype": "float32", "peak_gpu_memory_mib": 0}
    assert steps.record_problems("dpo", {"resources": no_autocast}, cuda=True) == [
        "dpo: no peak GPU memory recorded",
        "dpo: compute_dtype is 'float32', expected 'bfloat16'"]
    assert steps.record_problems("feedback", {"resources": {"device": "cpu"}}, cuda=True) == [
        "feedback: ran on 'cpu'", "feedback: no peak GPU memory recorded"]
    assert steps.record_problems("sft", {}, cuda=False)  # no record at all is a problem
