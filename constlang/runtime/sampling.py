"""Principle sampling: which principle each critique/revision round of a prompt uses."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Protocol, TypeVar

from constlang import plan as P

POLICIES = ("per_revision", "per_prompt", "in_order")


class SamplingError(ValueError):
    """The stage selects no principle that can be drawn."""


class Declared(Protocol):
    id: str


D = TypeVar("D", bound=Declared)


def select(items: Sequence[D], names: list[str]) -> list[D]:
    """The declarations a stage selects: every one for `["all"]`, else those named, in order."""
    if names == ["all"]:
        return list(items)
    by_id = {item.id: item for item in items}
    missing = [n for n in names if n not in by_id]
    if missing:
        raise SamplingError(f"unknown name(s) in the selection: {', '.join(missing)}")
    return [by_id[n] for n in names]


def prompt_rng(seed: int, prompt_index: int) -> random.Random:
    """A generator that depends only on (seed, prompt index), so a resumed run draws the same."""
    key = hashlib.sha256(f"constlang/principles/{seed}/{prompt_index}".encode()).digest()
    return random.Random(int.from_bytes(key[:8], "big"))


class PrincipleSampler:
    """Chooses the principle of every round of a prompt, per the stage's sampling policy.

    - per_revision: a fresh weighted draw at each round, with replacement (the CAI paper);
    - per_prompt: one weighted draw, used for every round of the prompt;
    - in_order: the principles in declaration order, cycling; prompt i continues where
      prompt i-1 stopped, so every principle is used even when rounds < principles.
    Principles of weight 0 are never used.
    """

    def __init__(self, principles: Sequence[P.Principle], policy: str, seed: int) -> None:
        if policy not in POLICIES:
            raise SamplingError(f"unknown sampling policy `{policy}`; expected one of "
                                f"{', '.join(POLICIES)}")
        self.principles = [p for p in principles if p.weight > 0]
        if not self.principles:
            raise SamplingError("the stage selects no principle with a weight above 0")
        self.weights = [p.weight for p in self.principles]
        self.policy = policy
        self.seed = seed

    def choose(self, prompt_index: int, rounds: int) -> list[P.Principle]:
        """The principle of each of `rounds` rounds of the prompt at `prompt_index`."""
        if self.policy == "in_order":
            n = len(self.principles)
            start = prompt_index * rounds
            return [self.principles[(start + r) % n] for r in range(rounds)]
        rng = prompt_rng(self.seed, prompt_index)
        if self.policy == "per_prompt":
            return rng.choices(self.principles, self.weights, k=1) * rounds
        return rng.choices(self.principles, self.weights, k=rounds)
