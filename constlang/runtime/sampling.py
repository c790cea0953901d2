"""Principle sampling: which principle each critique/revision round of a prompt uses."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Protocol, TypeVar

from constlang import plan as P
from constlang.errors import UserError

POLICIES = ("per_revision", "per_prompt", "in_order")


class SamplingError(UserError, ValueError):
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


def hashed_seed(*parts: object) -> int:
    """A 64-bit number fixed by `parts` alone: the one way the runtime derives seeds, so that
    a resumed or rerun stage draws exactly what the first run drew."""
    key = "constlang/" + "/".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def prompt_rng(seed: int, prompt_index: int) -> random.Random:
    """The principle draws of one prompt: fixed by (seed, prompt index)."""
    return random.Random(hashed_seed("principles", seed, prompt_index))


def question_rng(seed: int, prompt_index: int) -> random.Random:
    """The question draws of one prompt: fixed by (seed, prompt index)."""
    return random.Random(hashed_seed("questions", seed, prompt_index))


def call_seed(seed: int, step: str, round_: int, first_index: int) -> int:
    """The generation seed of one batched call (31 bits): fixed by the chunk, so a rerun draws
    the same."""
    return (hashed_seed("generate", seed, step, round_, first_index) >> 32) & 0x7FFFFFFF


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


class QuestionSampler:
    """The questions a pair is judged on: one weighted draw (`per_comparison`) or all of them.

    Questions of weight 0 are never used.
    """

    def __init__(self, questions: Sequence[P.Question], policy: str, seed: int) -> None:
        if policy not in ("per_comparison", "all"):
            raise SamplingError(f"unknown question sampling `{policy}`; expected per_comparison "
                                "or all")
        self.questions = [q for q in questions if q.weight > 0]
        if not self.questions:
            raise SamplingError("the stage selects no question with a weight above 0")
        self.policy = policy
        self.seed = seed

    def choose(self, prompt_index: int) -> list[P.Question]:
        if self.policy == "all":
            return list(self.questions)
        rng = question_rng(self.seed, prompt_index)
        return rng.choices(self.questions, [q.weight for q in self.questions], k=1)
