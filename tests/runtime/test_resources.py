"""What a stage ran on, in its manifest's `resources`: the device, the trained weights' dtype,
the mixed precision and the dtype a training forward pass computed in; on CUDA (tests marked
`cuda`, run by benchmarks/gpu/run.py) the GPU's peak memory and bf16 autocast over float32
master weights, for a TRL stage and for PPO."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from constlang.cli.train import train
from constlang.runtime import resources
from constlang.runtime.models import LoadedModel

from .helpers import write_whole_method


def test_compute_dtype_is_observed_on_the_first_training_pass(tiny_model: LoadedModel) -> None:
    model = tiny_model.model
    ids = torch.tensor([[1, 2, 3]])
    resources.begin("cpu")
    resources.note_training(model, "bf16")
    with torch.no_grad():
        model(input_ids=ids)  # generation or scoring: not a training pass, not recorded
    assert "compute_dtype" not in resources.finish("cpu")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model(input_ids=ids)
    assert resources.finish("cpu") == {"device": "cpu", "weights_dtype": "float32",
                                       "mixed_precision": "bf16", "compute_dtype": "bfloat16"}
    model(input_ids=ids)  # the hook removed itself after its one observation
    assert resources.finish("cpu")["compute_dtype"] == "bfloat16"
    resources.begin("cpu")  # the next stage starts with no notes
    assert resources.finish("cpu") == {"device": "cpu"}


def run_stages(tmp_path: Path, model_dir: Path, device: str, stages: str,
               *extra: str) -> dict[str, dict]:
    path = write_whole_method(tmp_path, model_dir)
    run_dir = tmp_path / "runs"
    args = [str(path), "--run-dir", str(run_dir), "--device", device, "--stages", stages,
            *extra]
    result = CliRunner().invoke(train, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return {name: json.loads((run_dir / name / "manifest.json").read_text())["resources"]
            for name in stages.split(",")}


def test_manifests_record_device_and_training_precision_on_cpu(tmp_path: Path,
                                                               tiny_model_dir: Path) -> None:
    found = run_stages(tmp_path, tiny_model_dir, "cpu", "critique_revision,sft")
    assert found["critique_revision"] == {"device": "cpu"}
    assert found["sft"] == {"device": "cpu", "weights_dtype": "float32",
                            "mixed_precision": "no", "compute_dtype": "float32"}


@pytest.mark.cuda
def test_stages_on_cuda_train_float32_weights_under_bf16_autocast(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    stages = "critique_revision,sft,feedback,revision_pairs,reward_model,ppo"
    found = run_stages(tmp_path, tiny_model_dir, "cuda", stages)
    for stage, record in found.items():
        assert record["device"].startswith("cuda") and record["gpu"], stage
        assert record["peak_gpu_memory_mib"] > 0, stage
    for stage in ("sft", "reward_model", "ppo"):
        record = found[stage]
        assert record["weights_dtype"] == "float32", (stage, record)
        assert record["mixed_precision"] == "bf16", (stage, record)
        assert record["compute_dtype"] == "bfloat16", (stage, record)


@pytest.mark.cuda
def test_tiny_model_runs_on_cuda_in_float32(tiny_model: LoadedModel) -> None:
    from .tiny import build_tiny_model

    gpu = build_tiny_model("embedded", seed=0, device="cuda")
    assert next(gpu.model.parameters()).is_cuda
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        on_gpu = gpu.model(input_ids=ids.cuda()).logits.float().cpu()
        on_cpu = tiny_model.model(input_ids=ids).logits
    assert torch.allclose(on_gpu, on_cpu, atol=1e-3)
