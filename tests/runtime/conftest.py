"""Fixtures for the runtime tests: the embedded model's cache and a tiny random-weights Llama.

The embedded model is converted once into the normal user cache ($CONSTLANG_CACHE, else
$XDG_CACHE_HOME/constlang, else ~/.cache/constlang), so only the first run pays for it; point
CONSTLANG_CACHE at an empty folder to test the conversion again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

from .tiny import TOKENIZER_ENV, build_tiny_model, tokenizer_dir  # noqa: E402


@pytest.fixture(autouse=True)
def cuda_only(request: pytest.FixtureRequest) -> None:
    """Tests marked `cuda` run only where torch sees a CUDA GPU (benchmarks/gpu/run.py)."""
    import torch

    if request.node.get_closest_marker("cuda") and not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")


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
    if os.environ.get(TOKENIZER_ENV):  # no embedded model here: its tokenizer only
        return tokenizer_dir()
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


@pytest.fixture(scope="session")
def served_tiny(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """`transformers serve` on 127.0.0.1 serving `tiny_model_dir` (the served-model tests)."""
    pytest.importorskip("fastapi", reason="the served tests need transformers[serving]")
    from .served_server import Server

    started = Server(tiny_model_dir, log=tmp_path_factory.mktemp("serve") / "serve.log").start()
    yield started
    started.stop()


@pytest.fixture
def proxy(served_tiny: Any) -> Iterator[Any]:
    """A fault-injecting proxy in front of `served_tiny`, with no faults until a test sets them."""
    from .served_server import FaultProxy

    with FaultProxy(f"http://127.0.0.1:{served_tiny.port}") as proxy:
        yield proxy
