"""PPO, losses: the clipped policy loss, the clipped value loss, entropy and their diagnostics."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from constlang.runtime.ppo.advantages import masked_mean


@dataclass
class PolicyLoss:
    """The clipped surrogate loss and what PPO is debugged with."""

    loss: torch.Tensor
    clip_fraction: torch.Tensor  # share of tokens whose ratio left [1 − ε, 1 + ε]
    approx_kl: torch.Tensor  # KL(old ‖ new) estimate over the batch, k3 form
    ratio: torch.Tensor  # mean probability ratio new / old


def policy_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                mask: torch.Tensor, clip_range: float) -> PolicyLoss:
    """max(−A·ρ, −A·clip(ρ, 1 − ε, 1 + ε)) averaged over the reply tokens, ρ = p_new / p_old
    (Schulman et al. 2017, §3): the pessimistic bound stops an update from moving far on one
    batch."""
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        clip_fraction = masked_mean((clipped > unclipped).float(), mask)
        approx_kl = masked_mean(torch.expm1(log_ratio) - log_ratio, mask)
        mean_ratio = masked_mean(ratio, mask)
    return PolicyLoss(loss, clip_fraction, approx_kl, mean_ratio)


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
               mask: torch.Tensor, clip_range_value: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, clip fraction): ½·max((V − R)², (V_clipped − R)²) averaged over the reply tokens,
    where V_clipped keeps V within ±clip_range_value of the rollout's value (the value
    clipping of the original PPO code; Huang et al. 2024, policy training 10)."""
    clipped = old_values + torch.clamp(values - old_values, -clip_range_value, clip_range_value)
    plain_error = (values - returns) ** 2
    clipped_error = (clipped - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(plain_error, clipped_error), mask)
    with torch.no_grad():
        fraction = masked_mean((clipped_error > plain_error).float(), mask)
    return loss, fraction


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of each position's next-token distribution, from its logits: [..., vocab] → [...]."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(-1)


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(token) under each position's logits: [batch, T, vocab] and [batch, T] → [batch, T]."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return torch.gather(logp, -1, tokens.unsqueeze(-1)).squeeze(-1)
