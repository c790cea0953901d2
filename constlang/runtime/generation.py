"""Runtime, generation requests: how one sampling call is asked (GenerationSettings) and what
it returns (Generation); the engine that runs them is `generate.py`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from constlang import plan as P
from constlang.runtime.decoding import Finish
from constlang.runtime.sampling import hashed_seed

Chat = list[dict[str, str]]
Prompt = Union[str, Chat]


@dataclass(frozen=True)
class Generation:
    """One completion: its text, how it ended (EOS, the token limit, a stop string) and its
    length in new tokens."""

    text: str
    finish: Finish
    tokens: int
    # the token ids read and written (PPO trains on them); not part of equality
    prompt_ids: tuple[int, ...] = field(default=(), compare=False, repr=False)
    ids: tuple[int, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class GenerationSettings:
    """How to sample one completion per prompt."""

    max_new_tokens: int = 128
    temperature: float = 0.7  # 0 → greedy
    top_p: float = 0.95
    stop: tuple[str, ...] = ()  # the text is cut before the first of these
    seed: int = 0
    min_new_tokens: int = 0  # generate at least this many tokens (benchmarks fix the length)
    repetition_penalty: float = 1.0  # > 1 discourages the loops small models fall into
    # a prompt that does not fit the context with max_new_tokens: "error" (a ModelError
    # before anything runs), "truncate_left" (cut its oldest tokens) or "skip" (no completion)
    overflow: str = "error"
    context_length: int | None = None  # used when the model's config declares none

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise ValueError("need 0 <= min_new_tokens <= max_new_tokens and max_new_tokens >= 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("need temperature >= 0 and 0 < top_p <= 1")
        if self.repetition_penalty < 1:
            raise ValueError("need repetition_penalty >= 1")
        if any(not s for s in self.stop):
            raise ValueError("stop strings must not be empty")
        if self.overflow not in ("error", "truncate_left", "skip"):
            raise ValueError("overflow must be error, truncate_left or skip")

    @classmethod
    def for_model(cls, model: P.Model, seed: int) -> GenerationSettings:
        """The sampling settings a plan's model declares, with this seed."""
        return cls(max_new_tokens=model.max_new_tokens, temperature=model.temperature,
                   top_p=model.top_p, stop=(), seed=seed,
                   repetition_penalty=model.repetition_penalty, overflow=model.overflow,
                   context_length=model.context_length)


def batch_seed(seed: int, batch_index: int) -> int:
    """The sampling seed of one batch: fixed by (seed, batch index), not by earlier draws."""
    return hashed_seed("batch", seed, batch_index) & 0x7FFF_FFFF_FFFF_FFFF
