"""PPO, actors: the policy, the critic, the frozen reference and the scorer, and their forwards."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

import torch
from torch import nn

from constlang.kinds.ppo import PPOSettings
from constlang.runtime.heads import CausalLMWithValueHead

if TYPE_CHECKING:
    from peft import PeftModel
    from transformers import PreTrainedModel

M = TypeVar("M", bound=nn.Module)


class Rewarder(Protocol):
    """Anything that rewards replies: the reward model's RewardScorer, or a plain function's
    wrapper in tests. One number a (prompt, reply); higher is better."""

    def score(self, prompts: Sequence[str], replies: Sequence[str]) -> list[float]: ...


class TokenValues(nn.Module):
    """A sequence classifier (the reward model's architecture) read as a critic: its score head
    applied at every position instead of only the last one, so each token gets a value."""

    def __init__(self, classifier: PreTrainedModel) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        backbone = getattr(self.classifier, self.classifier.base_model_prefix)
        hidden = backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        head = self.classifier.get_submodule("score")
        return head(hidden).squeeze(-1).float()


def lora_policy(lm: PreTrainedModel, settings: PPOSettings) -> nn.Module:
    """The causal LM with fresh LoRA adapters (only they train; the base stays frozen)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha,
                        lora_dropout=settings.lora_dropout, target_modules="all-linear",
                        task_type="CAUSAL_LM")
    return get_peft_model(lm, config)


def frozen(model: M) -> M:
    """model in eval mode without gradients."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@dataclass
class Actors:
    """What one PPO run trains and consults.

    `policy` is a causal LM (possibly with LoRA adapters), or, with a value head, a
    CausalLMWithValueHead whose forward returns (logits, values). `critic` is the separate
    value model (TokenValues), None when the head sits on the policy. `reference` is a frozen
    copy of the starting policy, None under LoRA: the base with its adapters disabled is the
    reference, so no second copy is held in memory.
    """

    policy: nn.Module
    critic: TokenValues | None
    reference: nn.Module | None
    scorer: Rewarder
    lora: bool

    @classmethod
    def build(cls, lm: PreTrainedModel, settings: PPOSettings, scorer: Rewarder,
              critic_model: PreTrainedModel | None) -> Actors:
        """Actors for a stage's settings from a loaded causal LM (the policy to start from) and,
        for value_model = reward, a trainable copy of the reward model (`critic_model`)."""
        # dropout off throughout, so PPO's ratios compare like with like (Huang et al. 2024,
        # policy training 4)
        lm.eval()
        reference = None if settings.lora else frozen(copy.deepcopy(lm))
        policy = lora_policy(lm, settings) if settings.lora else lm
        critic = None
        if settings.value_model == "policy_head":
            with_head = CausalLMWithValueHead(policy)
            with_head.value_head.float()  # the head trains in full precision
            policy = with_head
        else:
            if critic_model is None:
                raise ValueError("value_model = reward needs the reward model's copy")
            critic = TokenValues(critic_model.eval())
        return cls(policy, critic, reference, scorer, settings.lora)

    def trainable(self) -> list[nn.Parameter]:
        """Every parameter the optimizer updates."""
        modules = [self.policy] + ([self.critic] if self.critic is not None else [])
        return [p for m in modules for p in m.parameters() if p.requires_grad]

    def forward(self, policy: nn.Module, critic: nn.Module | None, input_ids: torch.Tensor,
                attention_mask: torch.Tensor,
                keep: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits of the last `keep` positions, or all; values at every position). `policy`
        and `critic` are the (possibly accelerate-wrapped) modules, so gradients flow through
        their wrappers. Skipping the prompt's logits saves most of the vocabulary projection."""
        extra = {"logits_to_keep": keep} if keep else {}
        if critic is None:
            logits, values = policy(input_ids=input_ids, attention_mask=attention_mask, **extra)
            return logits, values.float()
        logits = policy(input_ids=input_ids, attention_mask=attention_mask, **extra).logits
        return logits, critic(input_ids=input_ids, attention_mask=attention_mask)

    def language_model(self, policy: nn.Module) -> nn.Module:
        """The causal LM inside the (unwrapped) policy: what generates."""
        return policy.lm if isinstance(policy, CausalLMWithValueHead) else policy

    @contextmanager
    def reference_model(self, policy: nn.Module) -> Iterator[nn.Module]:
        """The reference LM for this block: the frozen copy, or (LoRA) the unwrapped policy's
        LM with its adapters disabled."""
        if self.reference is not None:
            yield self.reference
            return
        lm = cast("PeftModel", self.language_model(policy))  # LoRA: the LM has adapters
        with lm.disable_adapter():
            yield lm

    def final_model(self, policy: nn.Module) -> nn.Module:
        """The trained causal LM to save: adapters merged in, value head left behind."""
        lm = self.language_model(policy)
        return cast("PeftModel", lm).merge_and_unload() if self.lora else lm
