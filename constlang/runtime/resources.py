"""Runner, shared by every stage: what a stage ran on, recorded in its manifest's `resources`
— the device, and on CUDA the GPU and its peak memory; for a training stage the dtype of its
trained weights, the mixed precision its trainer asked for, and the dtype its layers computed in
(observed on the first training forward pass, so bf16 autocast is confirmed, not assumed)."""

from __future__ import annotations

from typing import Any

MIB = 1024 * 1024
_notes: dict[str, Any] = {}  # this process's current stage (stages run one after another)


def begin(device: str) -> None:
    """A stage starts: forget the last stage's notes; on CUDA restart the peak memory count."""
    _notes.clear()
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats()


def note(**values: Any) -> None:
    """Add facts about the running stage (a training stage's precision)."""
    _notes.update(values)


def finish(device: str) -> dict[str, Any]:
    """The stage's `resources` record: the device, the notes, and on CUDA the GPU's name and
    the peak memory allocated by torch since `begin`."""
    record: dict[str, Any] = {"device": device}
    if device.startswith("cuda"):
        import torch

        record["gpu"] = torch.cuda.get_device_name()
        record["peak_gpu_memory_mib"] = round(torch.cuda.max_memory_allocated() / MIB, 1)
    return {**record, **_notes}


def note_training(model: Any, mixed_precision: str) -> None:
    """Record a training stage's precision: its trained weights' dtype (float32 master weights
    on a GPU), the mixed precision asked for ("bf16", "fp16" or "no"), and — once the first
    forward pass has run — the dtype a linear layer's output had (bfloat16 under bf16
    autocast)."""
    trained = [p for p in model.parameters() if p.requires_grad]
    weights = trained[0].dtype if trained else next(model.parameters()).dtype
    note(weights_dtype=str(weights).removeprefix("torch."), mixed_precision=mixed_precision)
    observe_compute_dtype(model)


def observe_compute_dtype(model: Any) -> None:
    """Note the output dtype of the model's first linear layer (a projection of its first
    block) on its first forward pass with gradients: a training pass, not generation or
    scoring. (Trainers may compute the loss without calling the output layer as a module.)"""
    import torch

    layer = next((m for m in model.modules() if isinstance(m, torch.nn.Linear)), None)
    if layer is None:
        return

    def hook(module: Any, args: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor) and torch.is_grad_enabled():
            note(compute_dtype=str(output.dtype).removeprefix("torch."))
            handle.remove()

    handle = layer.register_forward_hook(hook)


def trainer_precision(trainer: Any) -> str:
    """The mixed precision a transformers Trainer runs under: "bf16", "fp16" or "no"."""
    args = trainer.args
    return "bf16" if getattr(args, "bf16", False) else "fp16" if getattr(args, "fp16", False) \
        else "no"
