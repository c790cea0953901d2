"""Decoding controls: stop strings, a repetition penalty on generated tokens only, how each row
finished, and when prefill ended (for the prefill/decode split of the engine's stats)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch

Finish = Literal["eos", "length", "stop", "skipped"]  # skipped: the prompt did not fit


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to (not including) the earliest occurrence of any stop string."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=len(text))
    return text[:cut]


class StopStrings:
    """A stopping criterion: a row is done once its new text holds a stop string; records the
    length at which each row stopped."""

    def __init__(self, tokenizer: Any, stop: Sequence[str], prompt_width: int) -> None:
        self.tokenizer = tokenizer
        self.stop = tuple(stop)
        self.prompt_width = prompt_width
        # A token decodes to at least one character, so this many tokens cover the longest stop.
        self.window = max(len(s) for s in stop) + 2
        self.done: torch.Tensor | None = None
        self.stopped_after: dict[int, int] = {}  # row → new tokens when its stop string showed

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        import torch

        if self.done is None:
            self.done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        tails = input_ids[:, max(self.prompt_width, input_ids.shape[1] - self.window):]
        rows = (~self.done).nonzero().flatten().tolist()
        texts = self.tokenizer.batch_decode(tails[rows], skip_special_tokens=True)
        for row, text in zip(rows, texts, strict=True):
            if any(s in text for s in self.stop):
                self.done[row] = True
                self.stopped_after[row] = input_ids.shape[1] - self.prompt_width
        return self.done.clone()


class GeneratedRepetitionPenalty:
    """Penalise tokens the row has already generated — not the prompt's. transformers' own
    penalty counts prompt tokens too, which on long prompts pushes a small model away from the
    very words it is asked to reuse (the reply it revises, the request it answers)."""

    def __init__(self, penalty: float, prompt_width: int) -> None:
        self.penalty = penalty
        self.prompt_width = prompt_width

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        generated = input_ids[:, self.prompt_width:]
        if generated.shape[1] == 0:
            return scores
        picked = torch.gather(scores, 1, generated)
        picked = torch.where(picked < 0, picked * self.penalty, picked / self.penalty)
        return scores.scatter(1, generated, picked)


class PrefillClock:
    """A logits processor that notes when the first new token's logits arrive: everything
    before is prefill, everything after is decoding."""

    def __init__(self) -> None:
        self.first: float | None = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self.first is None:
            self.first = time.perf_counter()
        return scores


def finishes(new: torch.Tensor, eos: Sequence[int],
             stopped_after: dict[int, int]) -> list[tuple[Finish, int]]:
    """How each row of the new tokens finished, and how many tokens it generated: at its stop
    string, at its first EOS (counted), or at the length limit. Padding after a finished row
    is not counted."""
    import torch

    ended = torch.isin(new, torch.tensor(list(eos), device=new.device))
    first_eos = torch.where(ended.any(1), ended.int().argmax(1) + 1, -1).tolist()
    out: list[tuple[Finish, int]] = []
    for row, at_eos in enumerate(first_eos):
        stop_at = stopped_after.get(row)
        if stop_at is not None and (at_eos < 0 or stop_at < at_eos):
            out.append(("stop", stop_at))
        elif at_eos >= 0:
            out.append(("eos", at_eos))
        else:
            out.append(("length", int(new.shape[1])))
    return out
