"""Fixtures for the runtime tests: the embedded model's cache and a tiny random-weights Llama.

The embedded model is converted once into the normal user cache ($CONSTLANG_CACHE, else
$XDG_CACHE_HOME/constlang, else ~/.cache/constlang), so only the first run pays for it; point
CONSTLANG_CACHE at an empty folder to test the conversion again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

INSTALL = "pip install -e '.[train]'"
pytest.importorskip("torch", reason=f"the runtime needs torch: {INSTALL}")
pytest.importorskip("transformers", reason=f"the runtime needs transformers: {INSTALL}")

from constlang.runtime.models import (  # noqa: E402  (after the skips on purpose)
    LoadedModel,
    ModelError,
    embedded_model_dir,
    save_model,
)

from .tiny import build_tiny_model  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, and a shared CI core cannot stall its partner."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def embedded_dir() -> Path:
    """The converted embedded model; a missing package fails with the install command."""
    try:
        return embedded_model_dir()
    except ModelError as e:  # installed here and in CI: never skip silently
        pytest.fail(str(e))


@pytest.fixture(scope="session")
def tiny_model(embedded_dir: Path) -> LoadedModel:
    """A tiny seeded Llama with the real SmolLM2 tokenizer and chat template."""
    return build_tiny_model("embedded", seed=0)


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_model: LoadedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tiny_model` saved as a transformers directory, for `model { source = "<dir>" }`."""
    return save_model(tiny_model.model, tiny_model.tokenizer,
                      tmp_path_factory.mktemp("tiny") / "model")
