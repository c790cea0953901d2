"""PPO, state: the KL coefficient's controller, score normalisation, and what a checkpoint holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from constlang.files import publish_dir, read_own, remove_own
from constlang.runtime.hashing import RunDirError

STATE_FILE = "ppo_state.json"  # a readable copy of LoopState, next to accelerate's files
STATE_LIMIT = 1024 * 1024  # bytes of STATE_FILE: a handful of numbers


class KLController:
    """The KL penalty's coefficient β: fixed, or adaptive (Ziegler et al. 2019, §2.2): after
    each batch, β ← β·(1 + clip(KL/target − 1, ±0.2)·n/horizon), so the KL per reply drifts
    towards the target instead of being fixed by hand."""

    def __init__(self, value: float, target: float | None = None,
                 horizon: int = 10_000) -> None:
        self.value = value
        self.target = target
        self.horizon = horizon

    def update(self, kl: float, rollouts: int) -> None:
        """Adapt β to the batch's mean KL per reply (no change when fixed)."""
        if self.target is None:
            return
        error = min(max(kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * rollouts / self.horizon


class ScoreNormalizer:
    """Reward-model scores shifted and scaled to mean 0 and standard deviation 1 by the
    statistics of the first batch (`initial`: the starting policy's replies) or of every
    score so far (`running`, Welford's update); `none` leaves them alone."""

    def __init__(self, mode: str) -> None:
        if mode not in ("none", "initial", "running"):
            raise ValueError(f"unknown reward normalization {mode!r}")
        self.mode = mode
        self.count, self.mean, self.m2 = 0, 0.0, 0.0

    def _add(self, scores: list[float]) -> None:
        for x in scores:
            self.count += 1
            delta = x - self.mean
            self.mean += delta / self.count
            self.m2 += delta * (x - self.mean)

    @property
    def std(self) -> float:
        return (self.m2 / (self.count - 1)) ** 0.5 if self.count > 1 else 1.0

    def __call__(self, scores: torch.Tensor, seen: torch.Tensor | None = None) -> torch.Tensor:
        """The batch's scores, normalised. The statistics first take in `seen` (the scores of
        the whole batch across processes; default: `scores`), when the mode says so."""
        if self.mode == "none":
            return scores
        if self.mode == "running" or self.count == 0:
            self._add([float(x) for x in (scores if seen is None else seen)])
        return (scores - self.mean) / max(self.std, 1e-8)


class LoopState:
    """The loop's own state, checkpointed beside the models and optimizer: the next step, the KL
    coefficient and the score statistics (accelerate's `register_for_checkpointing` protocol)."""

    def __init__(self, kl: KLController, normalizer: ScoreNormalizer) -> None:
        self.step = 0
        self.kl = kl
        self.normalizer = normalizer

    def state_dict(self) -> dict[str, Any]:
        n = self.normalizer
        return {"step": self.step, "kl_coef": self.kl.value, "score_count": n.count,
                "score_mean": n.mean, "score_m2": n.m2}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.kl.value = float(state["kl_coef"])
        n = self.normalizer
        n.count, n.mean, n.m2 = int(state["score_count"]), state["score_mean"], state["score_m2"]


def save_checkpoint(accelerator: Any, state: LoopState, folder: Path) -> None:
    """Publish a checkpoint: every prepared model and optimizer, the RNG states of every
    process and the LoopState (accelerate's save_state), written beside `folder` and renamed
    into place, so a kill leaves the previous checkpoint or the new one, never half of one.
    (One staging name for every process: each writes its own RNG state there.)"""
    staging = folder.parent / f".{folder.name}.saving"
    if accelerator.is_main_process:
        remove_own(staging)  # a link planted there goes; accelerate never writes through it
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging), safe_serialization=False)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (staging / STATE_FILE).write_text(json.dumps(state.state_dict(), indent=2) + "\n",
                                          "utf-8")
        publish_dir(staging, folder)
    accelerator.wait_for_everyone()


def checkpoint_step(folder: Path) -> int | None:
    """The step a checkpoint continues from, or None when there is none. A checkpoint whose
    state file is not one this loop wrote (a link, not JSON, no whole-number step) is a
    RunDirError naming it: the run neither guesses a step nor quietly starts over."""
    path = folder / STATE_FILE
    try:
        state = json.loads(read_own(path, STATE_LIMIT))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        raise _damaged(folder, getattr(exc, "strerror", None) or type(exc).__name__) from None
    step = state.get("step") if isinstance(state, dict) else None
    if type(step) is not int or step < 0:
        raise _damaged(folder, f"{STATE_FILE} holds no whole-number `step`")
    return step


def load_checkpoint(accelerator: Any, folder: Path) -> None:
    """Restore models, optimizer, RNG states and the registered LoopState from `folder`; a
    RunDirError when its files cannot be loaded (damaged, or of another model)."""
    try:
        accelerator.load_state(str(folder))
    except (MemoryError, torch.cuda.OutOfMemoryError):
        raise  # the machine's limit, which the runner explains; not a damaged file
    except Exception as exc:  # whatever the loaders raise on damaged files, said in one line
        raise _damaged(folder, " ".join(str(exc).split())[:200] or type(exc).__name__
                       ) from None


def _damaged(folder: Path, why: str) -> RunDirError:
    return RunDirError(f"{folder}: not a checkpoint this stage can continue from ({why}); "
                       f"remove the folder {folder} to start the stage from its beginning")
