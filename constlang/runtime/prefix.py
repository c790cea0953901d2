"""Prefix reuse: the key/value cache of the tokens every prompt of a call starts with, run once.

A stage's prompts share a long head (the chat template's system turn, few-shot turns, fixed
instructions) and differ only at the end. Prefill of that head is computed once, copied to
every row of a batch, and each row's own suffix follows it; padding goes between the shared
head and the suffix, so every row sees the head at positions 0..P-1 exactly as in a plain
left-padded run (positions come from the attention mask), and greedy results are the same.
This is what vLLM's automatic prefix caching and SGLang's radix cache do, for one shared head.
"""

from __future__ import annotations

import copy
import inspect
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

MIN_PREFIX_TOKENS = 32  # below this the copy costs about what the reuse saves


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Tokens every row starts with, leaving each row at least one token of its own (the model
    must run on something to give the first new token's logits)."""
    if not rows:
        return 0
    first, shortest = rows[0], min(len(r) for r in rows)
    n = 0
    limit = shortest - 1
    while n < limit and all(r[n] == first[n] for r in rows):
        n += 1
    return n


def cache_argument(model: Any) -> str:
    """The keyword the model's forward takes its KV cache by (`cache` in transformers 5)."""
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


class SharedPrefix:
    """The KV cache of one token prefix, computed by one forward pass."""

    def __init__(self, model: Any, ids: Sequence[int], device: str) -> None:
        import torch

        self.ids = list(ids)
        self.argument = cache_argument(model)
        started = time.perf_counter()
        tensor = torch.tensor([self.ids], dtype=torch.long, device=device)
        out = model(input_ids=tensor, use_cache=True)
        self.cache = getattr(out, "cache", None) or out.past_key_values
        self.seconds = time.perf_counter() - started

    def __len__(self) -> int:
        return len(self.ids)

    def for_batch(self, rows: int) -> dict[str, Any]:
        """The keyword argument that hands `generate` a copy of the cache for `rows` rows."""
        cache = copy.deepcopy(self.cache)
        if rows > 1:
            cache.batch_repeat_interleave(rows)
        return {self.argument: cache}


def layout(prefix: Sequence[int], suffixes: Sequence[Sequence[int]], pad: int,
           device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Input ids and attention mask of `prefix + padding + suffix` rows (padding in the middle,
    masked out, so each suffix ends at the right edge where generation continues)."""
    import torch

    width = max(len(s) for s in suffixes)
    head = list(prefix)
    ids = [head + [pad] * (width - len(s)) + list(s) for s in suffixes]
    mask = [[1] * len(head) + [0] * (width - len(s)) + [1] * len(s) for s in suffixes]
    return (torch.tensor(ids, dtype=torch.long, device=device),
            torch.tensor(mask, dtype=torch.long, device=device))
