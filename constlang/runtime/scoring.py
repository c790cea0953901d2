"""Option scoring: log-probabilities of fixed answers after a prompt, from one pass over the
prompts and one short pass over every option continuing from their KV cache.

An option's tokens are the ones the tokenizer gives the prompt's text with the option appended,
after the prompt's own tokens — not the option tokenized alone, which differs for tokenizers
that mark a leading space (SentencePiece's ▁) or merge across the boundary. Each option is
scored on its tokens up to and including the first one that sets it apart from the others, so a
longer option is not penalised for its extra tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from constlang.runtime.prefix import SharedPrefix, cache_argument, layout


def _common(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def continuations(tokenizer: Any, text: str, options: Sequence[str], special: bool) -> tuple[
        list[int], list[list[int]]]:
    """(prompt ids, each option's ids) for one rendered prompt: `text + option` tokenized
    together and split where all of them leave the prompt's own tokens (when a tokenizer merges
    the prompt's last token with an option, that token moves into every option)."""
    prompt = tokenizer(text, add_special_tokens=special)["input_ids"]
    full = [tokenizer(text + o, add_special_tokens=special)["input_ids"] for o in options]
    cut = min([len(prompt)] + [_common(prompt, f) for f in full])
    conts = [f[cut:] for f in full]
    for option, tokens in zip(options, conts, strict=True):
        if not tokens:
            raise ValueError(f"option {option!r} has no tokens after the prompt")
    return prompt[:cut], conts


def scored_lengths(options: Sequence[Sequence[int]]) -> list[int]:
    """How many leading tokens of each option count: its tokens up to and including the first
    one no other option shares at that point (its distinguishing prefix), so the score is the
    probability of the option's branch, and tokens after it (nearly certain, but more of them
    for a longer option) do not bias the comparison. An option that is a prefix of another
    counts whole."""
    out = []
    for j, tokens in enumerate(options):
        shared = max((_common(tokens, other) for k, other in enumerate(options) if k != j),
                     default=0)
        out.append(min(shared + 1, len(tokens)))
    return out


def score_batch(engine: Any, rows: list[list[int]], choices: list[list[list[int]]],
                shared: SharedPrefix | None = None) -> list[list[float]]:
    """Option log-probabilities for a batch of encoded prompts, `choices[b]` the option tokens of
    row b: one pass over the prompts (left-padded, keeping their cache), then one pass over every
    (prompt, option) pair's option tokens (right-padded) continuing from that cache. With
    `shared` (a head every row starts with, prefilled once: runtime.prefix), the first pass
    runs only the rows' own tokens after it, padded between head and suffix as generation does;
    positions come from the mask either way, so the scores are those of the plain run."""
    import torch

    n = len(choices[0])
    width = max(len(c) for row in choices for c in row)
    if shared is not None:
        p = len(shared)
        ids, mask = layout(shared.ids, [r[p:] for r in rows], engine.tokenizer.pad_token_id,
                           engine.loaded.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = engine.model(input_ids=ids[:, p:], attention_mask=mask,
                           position_ids=positions[:, p:], use_cache=True, logits_to_keep=1,
                           **shared.for_batch(len(rows)))
    else:
        ids, mask = engine._pad_left(rows)
        out = engine.model(input_ids=ids, attention_mask=mask, use_cache=True,
                           position_ids=(mask.cumsum(-1) - 1).clamp(min=0), logits_to_keep=1)
    first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # the first option token
    cache = getattr(out, "cache", None) or out.past_key_values
    cache.batch_repeat_interleave(n)
    pad = engine.tokenizer.pad_token_id
    flat = [c for row in choices for c in row]
    opt = torch.tensor([c + [pad] * (width - len(c)) for c in flat], dtype=torch.long,
                       device=ids.device)
    opt_mask = torch.tensor([[1] * len(c) + [0] * (width - len(c)) for c in flat],
                            dtype=torch.long, device=ids.device)
    starts = mask.sum(-1).repeat_interleave(n)  # each row's real prompt length
    positions = starts[:, None] + torch.arange(width, device=ids.device)[None, :]
    full_mask = torch.cat([mask.repeat_interleave(n, 0), opt_mask], dim=1)
    rest = engine.model(input_ids=opt, attention_mask=full_mask, position_ids=positions,
                        use_cache=True, **{cache_argument(engine.model): cache}).logits
    later = torch.log_softmax(rest.float(), dim=-1)  # position t predicts token t + 1
    scores: list[list[float]] = []
    for b, row in enumerate(choices):
        row_scores = []
        for j, (tokens, count) in enumerate(zip(row, scored_lengths(row), strict=True)):
            k = b * n + j
            total = first[b, tokens[0]]
            for t in range(1, count):
                total = total + later[k, t - 1, tokens[t]]
            row_scores.append(float(total))
        scores.append(row_scores)
    return scores
