"""Shared by the judge rules: a model's parameter count, read from its source name."""

from __future__ import annotations

import re

from constlang import plan as P
from constlang.embedded import embedded_model

SMALL = 10e9  # below this a judge is "small": position bias is strong
TINY = 1e9  # below this pairwise (A)/(B) judging is close to chance
_SIZE_RE = re.compile(r"(?<![0-9.])(?:(\d+)x)?(\d+(?:\.\d+)?)\s*([mb])(?![a-z])", re.IGNORECASE)


def parameters(model: P.Model) -> float | None:
    """Parameters of a model, from a size in its name ("SmolLM2-1.7B", "qwen-0.5b"; a served
    model's `served_model`), or None."""
    source = model.source or model.served_model or ""
    embedded = embedded_model(source)
    if embedded is not None:
        return embedded.parameters
    name = source.rsplit("/", 1)[-1]
    m = _SIZE_RE.search(name)
    if m is None:
        return None
    experts = int(m.group(1) or 1)
    unit = 1e6 if m.group(3).lower() == "m" else 1e9
    return experts * float(m.group(2)) * unit


def size_words(n: float) -> str:
    return f"{n / 1e9:g}B" if n >= 1e9 else f"{n / 1e6:g}M"
