"""Runtime, engines: what stages and evaluation need from a model engine (GenerationEngine, or a
fake in tests), as protocols: one to generate, one to score options, one for both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from constlang.prompts import Chat
from constlang.runtime.generation import Generation


class Generator(Protocol):
    """Generates one completion per prompt."""

    def generate_full(self, prompts: list[Chat], settings: Any,
                      progress: Callable[[int], None] | None = None) -> list[Generation]: ...


class OptionScorer(Protocol):
    """Scores a multiple choice: the log-probability of each option after each prompt."""

    def score_options(self, prompts: list[Chat], options: list[str], *, overflow: str = "error",
                      context_length: int | None = None) -> list[list[float]]: ...


class Engine(Generator, OptionScorer, Protocol):
    """Generates and scores: the policy and the judge of feedback and evaluation."""
