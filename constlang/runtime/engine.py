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


def open_engine(spec: Any, *, device: str | None, base_dir: Any, batch_size: int,
                use: str = "generate", folder: Any = None,
                say: Callable[[str], None] | None = None) -> Any:
    """The engine of a plan model: a ServedEngine for one that names an endpoint (answers
    journaled under `folder`/served/, when a stage folder is given), else its weights loaded
    here (`use` as in runtime.models.load_model) in a GenerationEngine."""
    from pathlib import Path

    from constlang.runtime.served.spec import ServedSpec, is_served

    if is_served(spec):
        from constlang.runtime.served.engine import ServedEngine

        journal = Path(folder) / "served" / f"{spec.id}.jsonl" if folder is not None else None
        return ServedEngine(ServedSpec.of(spec), journal=journal, say=say)
    from constlang.runtime.generate import GenerationEngine
    from constlang.runtime.models import load_model

    loaded = load_model(spec, device=device, base_dir=base_dir, use=use)  # type: ignore[arg-type]
    return GenerationEngine(loaded, batch_size=batch_size)


def served_summaries(*engines: Any) -> list[str]:
    """The summary line of each distinct served engine among `engines`."""
    seen: list[Any] = []
    for engine in engines:
        if hasattr(engine, "summary") and hasattr(engine, "client") and engine not in seen:
            seen.append(engine)
    return [e.summary() for e in seen]
