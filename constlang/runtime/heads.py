"""Model heads: the value head a causal LM carries as PPO's critic (imported with torch)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class ValueHead(nn.Module):
    """One scalar a token from the last hidden state. Starts at zero, so the first value
    estimates add nothing to the advantages (the PPO implementation details' choice)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.score = nn.Linear(hidden_size, 1)
        nn.init.zeros_(self.score.weight)
        nn.init.zeros_(self.score.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.score(hidden).squeeze(-1)


class CausalLMWithValueHead(nn.Module):
    """A causal LM plus a value head on its last hidden states: `forward` returns the LM's
    logits and one value a token; `generate` and the config are the LM's own."""

    def __init__(self, lm: Any) -> None:
        super().__init__()
        self.lm = lm
        self.value_head = ValueHead(lm.config.hidden_size).to(lm.device, lm.dtype)

    @property
    def config(self) -> Any:
        return self.lm.config

    @property
    def generation_config(self) -> Any:
        return self.lm.generation_config

    @property
    def device(self) -> torch.device:
        return self.lm.device

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        return self.lm.generate(*args, **kwargs)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.lm(input_ids=input_ids, attention_mask=attention_mask,
                      output_hidden_states=True, **kwargs)
        return out.logits, self.value_head(out.hidden_states[-1])
