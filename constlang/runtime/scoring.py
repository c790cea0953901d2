"""Option scoring: log-probabilities of fixed answers after a prompt, from one pass over the
prompts and one short pass over every option continuing from their KV cache."""

from __future__ import annotations

from typing import Any

from constlang.runtime.prefix import cache_argument


def score_batch(engine: Any, rows: list[list[int]], choices: list[list[int]]) -> list[list[float]]:
    """Option log-probabilities for a batch of encoded prompts: one pass over the prompts
    (left-padded, keeping their cache), then one pass over every (prompt, option) pair's
    option tokens (right-padded) continuing from that cache."""
    import torch

    n, width = len(choices), max(len(c) for c in choices)
    ids, mask = engine._pad_left(rows)
    out = engine.model(input_ids=ids, attention_mask=mask, use_cache=True,
                       position_ids=(mask.cumsum(-1) - 1).clamp(min=0), logits_to_keep=1)
    first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # the first option token
    cache = getattr(out, "cache", None) or out.past_key_values
    cache.batch_repeat_interleave(n)
    pad = engine.tokenizer.pad_token_id
    opt = torch.tensor([c + [pad] * (width - len(c)) for _ in rows for c in choices],
                       dtype=torch.long, device=ids.device)
    opt_mask = torch.tensor([[1] * len(c) + [0] * (width - len(c)) for _ in rows
                             for c in choices], dtype=torch.long, device=ids.device)
    starts = mask.sum(-1).repeat_interleave(n)  # each row's real prompt length
    positions = starts[:, None] + torch.arange(width, device=ids.device)[None, :]
    full_mask = torch.cat([mask.repeat_interleave(n, 0), opt_mask], dim=1)
    rest = engine.model(input_ids=opt, attention_mask=full_mask, position_ids=positions,
                        use_cache=True, **{cache_argument(engine.model): cache}).logits
    later = torch.log_softmax(rest.float(), dim=-1)  # position t predicts token t + 1
    scores: list[list[float]] = []
    for b in range(len(rows)):
        row_scores = []
        for j, tokens in enumerate(choices):
            k = b * n + j
            total = first[b, tokens[0]]
            for t in range(1, len(tokens)):
                total = total + later[k, t - 1, tokens[t]]
            row_scores.append(float(total))
        scores.append(row_scores)
    return scores
