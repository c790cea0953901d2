"""Reward modelling: preference rows → training pairs, the soft-label loss, held-out metrics
(accuracy, margin, calibration), and the scoring API later stages use."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from constlang.runtime.preferences import calibration_error
from constlang.runtime.sampling import hashed_seed

if TYPE_CHECKING:
    import torch

BINS = 10  # equal-width bins of the calibration error and the reliability diagram
# fewer training pairs than this and a reward model mostly fits noise: the run warns (the
# threshold is a floor, not a recipe: published reward models train on tens of thousands)
MIN_PAIRS = 64


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


def heldout_text(held: Mapping[str, Any], train_pairs: int, fraction: float) -> str:
    """The held-out figures in words; with no held-out pairs, why there are none (the figures
    are null then, not zero)."""
    if not held.get("pairs"):
        why = (f"eval_fraction = {fraction:g} of them rounds to none" if fraction
               else "eval_fraction = 0")
        return f"no held-out pairs: {train_pairs} pairs, all used for training ({why})"
    accuracy = held.get("accuracy")
    shown = "n/a (every held-out label is a tie)" if accuracy is None else f"{accuracy}"
    return (f"held out: {held['pairs']} pairs, accuracy {shown}, mean margin "
            f"{held['mean_margin']}, calibration error {held['calibration_error']}")


def few_pairs_warning(pairs: int, stage: str, where: str | None = None) -> str | None:
    """A one-line warning when a reward model trains on fewer than MIN_PAIRS pairs, located
    at the stage's declaration (`file:line`) when known; None otherwise."""
    if pairs >= MIN_PAIRS:
        return None
    return (f"{where + ': ' if where else ''}warning: stage `{stage}` trains a reward model on "
            f"{pairs} preference pair{'' if pairs == 1 else 's'}, fewer than {MIN_PAIRS}: its "
            "scores will mostly be noise; give the stages it learns from more prompts or "
            "samples before PPO or evaluation relies on it")


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


Messages = list[dict[str, str]]


def conversation_ids(tokenizer: Any, prompt: str | Messages, reply: str) -> list[int]:
    """Token ids of (prompt, reply) as TRL's RewardTrainer tokenizes a conversational pair:
    the chat template over the prompt's messages and the assistant's reply."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    out = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": reply}],
                                        tokenize=True, return_dict=True)
    return list(out["input_ids"])


def fits(tokenizer: Any, pair: dict[str, Any], max_length: int) -> bool:
    """Whether both sides of a training pair fit in max_length tokens (TRL's RewardTrainer
    silently drops a pair that does not; the stage leaves it out and counts it instead)."""
    return all(len(conversation_ids(tokenizer, pair["prompt"], pair[side][-1]["content"]))
               <= max_length for side in ("chosen", "rejected"))


class RewardScorer:
    """Rewards of (prompt, reply) pairs from a reward model, tokenized as it was trained.

    A conversation longer than `max_length` (the stage's training limit) keeps its last
    `max_length` tokens, where the reply is: the model never saw a longer one.
    """

    def __init__(self, loaded: Any, batch_size: int = 8, max_length: int | None = None) -> None:
        self.loaded = loaded
        self.batch_size = batch_size
        self.max_length = max_length
        self.truncated = 0  # conversations cut to max_length so far

    def encode(self, prompts: Sequence[str | Messages], replies: Sequence[str]) -> list[list[int]]:
        tok = self.loaded.tokenizer
        out = []
        for p, r in zip(prompts, replies, strict=True):
            ids = conversation_ids(tok, p, r)
            if self.max_length is not None and len(ids) > self.max_length:
                ids = ids[-self.max_length:]
                self.truncated += 1
            out.append(ids)
        return out

    def score(self, prompts: Sequence[str | Messages], replies: Sequence[str]) -> list[float]:
        """One reward per (prompt, reply), in input order."""
        import torch

        model = self.loaded.model
        pad = self.loaded.tokenizer.pad_token_id
        encoded = self.encode(prompts, replies)
        out: list[float] = []
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(encoded), self.batch_size):
                    rows = encoded[start:start + self.batch_size]
                    width = max(len(r) for r in rows)
                    # right padding: the classifier reads the last token that is not padding
                    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows],
                                       device=model.device)
                    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows],
                                        device=model.device)
                    out += model(input_ids=ids, attention_mask=mask).logits[:, 0].float().tolist()
        finally:
            model.train(was_training)
        return out
