"""PPO, rollout: which prompts a step uses, sampling replies as token ids, and one batch of
experience (old log-probabilities, reference log-probabilities, values, scores)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn

from constlang.kinds.ppo import PPOSettings
from constlang.runtime.generate import Generation, GenerationEngine, GenerationSettings
from constlang.runtime.models import ModelError
from constlang.runtime.ppo.actors import Actors
from constlang.runtime.ppo.losses import entropy, token_logprobs
from constlang.runtime.ppo.rewards import score_rollouts
from constlang.runtime.sampling import hashed_seed


@dataclass(frozen=True)
class Query:
    """One rollout prompt: the chat the policy answers, and the plain prompt the reward model
    sees beside the reply (as in the preference pairs it was trained on), and the prompt's
    tags (which of the stage's checks apply to its replies)."""

    chat: list[dict[str, str]]
    prompt: str
    tags: tuple[str, ...] = ()


class ContextLimits(Protocol):
    """What rollouts take from the policy's model declaration (a plan's Model): what to do with
    a prompt too long for the context, and the context's length."""

    @property
    def overflow(self) -> str: ...

    @property
    def context_length(self) -> int | None: ...


def batch_indices(step: int, dataset_size: int, batch_size: int, seed: int) -> list[int]:
    """The prompts of update `step` (0-based): the dataset in a seeded order, epoch after epoch,
    batch_size at a time. A function of its arguments only, so a resumed run picks alike."""
    out = []
    for position in range(step * batch_size, (step + 1) * batch_size):
        epoch, offset = divmod(position, dataset_size)
        order = list(range(dataset_size))
        random.Random(hashed_seed("ppo-prompts", seed, epoch)).shuffle(order)
        out.append(order[offset])
    return out


def rollout_settings(settings: PPOSettings, model: ContextLimits,
                     step: int) -> GenerationSettings:
    """How step `step` samples: the stage's temperature with top_p = 1 and no repetition
    penalty (PPO's ratios need the very distribution the policy's log-probabilities give; cf.
    Huang et al. 2024, general 4), seeded by (seed, step)."""
    return GenerationSettings(
        max_new_tokens=settings.max_new_tokens, temperature=settings.temperature, top_p=1.0,
        seed=hashed_seed("ppo-rollout", settings.seed, step), overflow=model.overflow,
        context_length=model.context_length)


@dataclass
class Experience:
    """One batch of rollouts, laid out per action token.

    `input_ids`/`attention_mask` [B, T] hold prompt + reply, right-padded; the action at
    position t is token t+1, so every per-token tensor is [B, T−1] and `mask` marks the reply's
    tokens (EOS included).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    mask: torch.Tensor
    logprobs: torch.Tensor
    ref_logprobs: torch.Tensor
    values: torch.Tensor
    scores: torch.Tensor  # each reply's reward (reward model and checks), not normalised
    ended: torch.Tensor  # 1 where the reply finished with EOS
    texts: list[str]
    entropy: float  # mean per-token entropy of the sampling distribution
    # the reward's components over the batch (reward/model, reward/checks, pass rates)
    reward_figures: dict[str, float] = field(default_factory=dict)

    @property
    def actions(self) -> torch.Tensor:
        return self.input_ids[:, 1:]

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])


def assemble(generations: Sequence[Generation], pad_id: int,
             device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask, action mask) of prompt + reply rows, right-padded."""
    rows = [list(g.prompt_ids) + list(g.ids) for g in generations]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width - 1), dtype=torch.float)
    for i, (g, row) in enumerate(zip(generations, rows, strict=True)):
        ids[i, :len(row)] = torch.tensor(row)
        attention[i, :len(row)] = 1
        mask[i, len(g.prompt_ids) - 1:len(row) - 1] = 1
    return ids.to(device), attention.to(device), mask.to(device)


def sample(engine: GenerationEngine, queries: Sequence[Query],
           settings: GenerationSettings) -> list[Generation]:
    """One reply per query, as token ids; a prompt the overflow policy skipped has none."""
    out = engine.generate_full([q.chat for q in queries], settings)
    if all(not g.ids for g in out):
        raise ModelError("no rollout: every prompt of the batch was skipped as too long for "
                         "the policy's context (its overflow = \"skip\"); shorten the prompts "
                         "or max_new_tokens")
    return out


def reply_start(mask: torch.Tensor) -> int:
    """The first action position any row's reply occupies: logits before it are not needed."""
    return int(mask.float().argmax(1).min())


def action_logprobs(logits: torch.Tensor, tokens: torch.Tensor, start: int,
                    temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-probabilities, entropies) per action position [B, W−1] from the logits of the
    positions start…W−1 (zero before `start`); logits are divided by the sampling temperature,
    so the probabilities are the ones the replies were sampled from (Huang et al. 2024, policy
    training 1)."""
    scaled = logits[:, :-1].float() / temperature
    lp = token_logprobs(scaled, tokens[:, start:])
    pad = (start, 0)
    return (torch.nn.functional.pad(lp, pad),
            torch.nn.functional.pad(entropy(scaled.detach()), pad))


@torch.no_grad()
def score_batch(actors: Actors, policy: nn.Module, critic: nn.Module | None,
                generations: Sequence[Generation], queries: Sequence[Query], *, pad_id: int,
                temperature: float, micro: int, device: torch.device | str) -> Experience:
    """The experience of sampled replies: the policy's and the reference's log-probabilities
    of each reply token, the critic's values, and the reward model's scores. Forwards run
    `micro` rows at a time."""
    kept = [i for i, g in enumerate(generations) if g.ids]
    gens = [generations[i] for i in kept]
    ids, attention, mask = assemble(gens, pad_id, device)
    logprobs, ref_logprobs, values, entropies = [], [], [], []
    for begin in range(0, len(gens), micro):
        part = slice(begin, begin + micro)
        width = int(attention[part].sum(1).max())
        x, a, m = ids[part, :width], attention[part, :width], mask[part, :width - 1]
        start = reply_start(m)
        logits, v = actors.forward(policy, critic, x, a, keep=width - start)
        lp, ent = action_logprobs(logits, x[:, 1:], start, temperature)
        entropies.append(float((ent * m).sum()))
        with actors.reference_model(getattr(policy, "module", policy)) as reference:
            ref_logits = reference(input_ids=x, attention_mask=a,
                                   logits_to_keep=width - start).logits
        ref, _ = action_logprobs(ref_logits, x[:, 1:], start, temperature)
        pad = (0, mask.shape[1] - (width - 1))
        logprobs.append(torch.nn.functional.pad(lp, pad))
        ref_logprobs.append(torch.nn.functional.pad(ref, pad))
        values.append(torch.nn.functional.pad(v[:, :-1], pad))
    texts = [g.text for g in gens]
    scores, figures = score_rollouts(actors.scorer, [queries[i] for i in kept], texts)
    return Experience(
        input_ids=ids, attention_mask=attention, mask=mask,
        logprobs=torch.cat(logprobs) * mask, ref_logprobs=torch.cat(ref_logprobs) * mask,
        values=torch.cat(values) * mask,
        scores=torch.tensor(scores, dtype=torch.float, device=mask.device),
        ended=torch.tensor([float(g.finish == "eos") for g in gens], device=mask.device),
        texts=texts, entropy=sum(entropies) / max(float(mask.sum()), 1.0),
        reward_figures=figures)
