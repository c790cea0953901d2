"""Reward modelling: preference rows → training pairs, the soft-label loss, held-out metrics
(accuracy, margin, calibration), and the scoring API later stages use."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from constlang.runtime.preferences import calibration_error
from constlang.runtime.sampling import hashed_seed

if TYPE_CHECKING:
    import torch

BINS = 10  # equal-width bins of the calibration error and the reliability diagram


def split(pairs: list[dict[str, Any]], fraction: float, seed: int) -> tuple[
        list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, held out): a seeded shuffle, `fraction` held out, at least one pair to train on."""
    order = list(range(len(pairs)))
    random.Random(hashed_seed("reward-split", seed)).shuffle(order)
    held = min(round(len(pairs) * fraction), max(len(pairs) - 1, 0))
    chosen = set(order[:held])
    return ([p for i, p in enumerate(pairs) if i not in chosen],
            [p for i, p in enumerate(pairs) if i in chosen])


def soft_loss(delta: torch.Tensor, p_chosen: torch.Tensor) -> torch.Tensor:
    """−p·logσ(Δ) − (1−p)·logσ(−Δ), averaged; Δ = r_chosen − r_rejected. At p = 1 it is the
    Bradley–Terry loss TRL's RewardTrainer uses, −logσ(Δ)."""
    import torch.nn.functional as F

    p = p_chosen.to(delta.dtype)
    return -(p * F.logsigmoid(delta) + (1 - p) * F.logsigmoid(-delta)).mean()


def heldout_metrics(deltas: Sequence[float], p_chosen: Sequence[float]) -> dict[str, Any]:
    """Accuracy (the model prefers the reply the label prefers; ties in the label left out),
    mean margin Δ, and the calibration error of σ(Δ) against the soft labels."""
    import math

    if not deltas:
        return {"pairs": 0, "accuracy": None, "mean_margin": None, "calibration_error": None}
    probs = [1 / (1 + math.exp(-d)) for d in deltas]
    decided = [(d, p) for d, p in zip(deltas, p_chosen, strict=True) if p != 0.5]
    right = [d > 0 if p > 0.5 else d < 0 for d, p in decided]  # Δ = 0 prefers neither
    return {"pairs": len(deltas),
            "accuracy": round(sum(right) / len(right), 4) if right else None,
            "mean_margin": round(sum(deltas) / len(deltas), 4),
            "calibration_error": round(calibration_error(probs, list(p_chosen)), 4)}


def reliability_diagram(deltas: Sequence[float], p_chosen: Sequence[float], path: Path,
                        title: str) -> None:
    """A PNG: mean soft label against mean σ(Δ) per bin, beside the diagonal."""
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    probs = [1 / (1 + math.exp(-d)) for d in deltas]
    xs, ys, sizes = [], [], []
    for b in range(BINS):
        members = [i for i, p in enumerate(probs) if b / BINS <= p < (b + 1) / BINS
                   or (b == BINS - 1 and p == 1.0)]
        if members:
            xs.append(sum(probs[i] for i in members) / len(members))
            ys.append(sum(p_chosen[i] for i in members) / len(members))
            sizes.append(20 + 10 * len(members))
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    ax.scatter(xs, ys, s=sizes)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="σ(r_chosen − r_rejected)",
           ylabel="judge's P(chosen better)", title=title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


class RewardScorer:
    """Rewards of (prompt, reply) pairs from a reward model, with the model's chat template."""

    def __init__(self, loaded: Any, batch_size: int = 8) -> None:
        self.loaded = loaded
        self.batch_size = batch_size

    def texts(self, prompts: Sequence[str | list[dict[str, str]]],
              replies: Sequence[str]) -> list[str]:
        """Each conversation as the model reads it: the prompt (a user message, or the
        messages a preference row holds), then the reply, through the chat template."""
        tok = self.loaded.tokenizer
        return [tok.apply_chat_template(
            ([{"role": "user", "content": p}] if isinstance(p, str) else list(p))
            + [{"role": "assistant", "content": r}], tokenize=False)
            for p, r in zip(prompts, replies, strict=True)]

    def score(self, prompts: Sequence[str | list[dict[str, str]]],
              replies: Sequence[str]) -> list[float]:
        """One reward per (prompt, reply), in input order."""
        import torch

        tok, model = self.loaded.tokenizer, self.loaded.model
        texts = self.texts(prompts, replies)
        out: list[float] = []
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(texts), self.batch_size):
                    batch = tok(texts[start:start + self.batch_size], return_tensors="pt",
                                padding=True, add_special_tokens=False).to(model.device)
                    out += model(**batch).logits[:, 0].float().tolist()
        finally:
            model.train(was_training)
        return out
