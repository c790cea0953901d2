"""PPO, advantages: masked statistics, KL estimators, per-token rewards, GAE, whitening.

Every tensor here is laid out per action token, shape [batch, tokens], with a 0/1 `mask`
marking the reply's tokens; positions outside the mask are ignored (and come back as 0).
"""

from __future__ import annotations

from typing import Literal

import torch

KLEstimator = Literal["k1", "k3"]


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of x over the positions where mask is 1 (over `dim`, or everything)."""
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def masked_var(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Unbiased variance of x over the masked positions (0 for fewer than two)."""
    mean = masked_mean(x, mask)
    n = mask.sum()
    squares = ((x - mean) ** 2 * mask).sum()
    return squares / (n - 1) if n > 1 else torch.zeros_like(mean)


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True,
                  eps: float = 1e-8) -> torch.Tensor:
    """x scaled to unit variance over the masked positions; with shift_mean, also to mean 0
    (without, the mean is kept: whitening rewards must not turn every token's reward into a
    cost or a bonus for a longer reply)."""
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    out = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return out * mask


def kl_per_token(logprobs: torch.Tensor, ref_logprobs: torch.Tensor,
                 estimator: KLEstimator) -> torch.Tensor:
    """A per-token estimate of KL(policy ‖ reference) at the sampled tokens.

    k1 = log p − log p_ref: unbiased, but a single sample can be negative.
    k3 = (r − 1) − log r with r = p_ref / p: also unbiased, never negative, lower variance
    (Schulman, "Approximating KL divergence", 2020).
    """
    log_ratio = logprobs - ref_logprobs
    if estimator == "k1":
        return log_ratio
    if estimator == "k3":
        return torch.expm1(-log_ratio) + log_ratio
    raise ValueError(f"unknown KL estimator {estimator!r}; use k1 or k3")


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """The position of each row's last masked token (replies are contiguous)."""
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    return torch.where(mask.bool(), positions, -1).max(1).values


def token_rewards(scores: torch.Tensor, kl: torch.Tensor, kl_coef: float,
                  mask: torch.Tensor) -> torch.Tensor:
    """Per-token rewards: −kl_coef·KL at every reply token, plus the reply's score at its last
    token (Huang et al. 2024, policy training 8: the score at the episode's end, the KL
    penalty at every token)."""
    rewards = -kl_coef * kl * mask
    last = last_token_index(mask)
    rows = torch.arange(mask.shape[0], device=mask.device)
    rewards[rows, last] += scores.to(rewards.dtype)
    return rewards


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float,
        lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns) by generalised advantage estimation, right to left.

    δ_t = r_t + γ·V_{t+1} − V_t and A_t = δ_t + γλ·A_{t+1}, with V and A zero past a reply's
    last token (the episode ends there); returns = A + V, the value targets.
    """
    rewards, values = rewards * mask, values * mask
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    width = rewards.shape[1]
    for t in reversed(range(width)):
        next_value = values[:, t + 1] if t + 1 < width else torch.zeros_like(running)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = (delta + gamma * lam * running) * mask[:, t]
        advantages[:, t] = running
    return advantages, (advantages + values) * mask


def explained_variance(values: torch.Tensor, returns: torch.Tensor,
                       mask: torch.Tensor) -> float:
    """1 − Var(returns − values) / Var(returns) over the masked positions: 1 is a perfect
    critic, 0 one no better than a constant, negative worse than that."""
    var = masked_var(returns, mask)
    if float(var) == 0.0:
        return float("nan")
    return float(1 - masked_var(returns - values, mask) / var)
