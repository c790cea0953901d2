"""Benchmark: served models — the client's own cost per request, and the critique and judge
steps through a local `transformers serve` at concurrency 1, 4 and 16 beside the in-process
engine on the same model.

Run: python benchmarks/bench_served.py [--model tiny|embedded] [--rows N] [--requests R]
     [--continuous-batching] [--vllm-python PATH]
1. Overhead: R requests through ServedEngine to a server that answers instantly (a canned chat
   completion from a thread in this process), beside the same requests posted one by one with a
   bare httpx.Client; the difference is what the engine adds (target: under 5 ms a request).
2. Throughput: N critique requests (32 new tokens, sampled) and N judge labels (the parse
   fallback: `transformers serve` returns no log-probabilities) through the real server at
   concurrency 1, 4 and 16, and the same N critiques in-process (GenerationEngine, batch 8),
   printed as rows per second and as ratios to concurrency 1. The server is started by this
   script on 127.0.0.1 with one torch thread (--continuous-batching passes that flag on).
   With --vllm-python (a Python that has vLLM, e.g. the CPU build), the server is vLLM
   instead, and judge labels come from log-probabilities, as the method reads them.
"""

from __future__ import annotations

import argparse
import http.server
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from constlang.runtime.generate import GenerationEngine, GenerationSettings
from constlang.runtime.models import load_model, save_model
from constlang.runtime.served.engine import ServedEngine
from constlang.runtime.served.spec import ServedSpec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' helpers
from runtime.served_server import Server, free_port  # noqa: E402
from runtime.tiny import build_tiny_model  # noqa: E402

CANNED = json.dumps({"id": "x", "object": "chat.completion", "model": "instant",
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": "Fine."}}],
                     "usage": {"prompt_tokens": 10, "completion_tokens": 2}}).encode()
PROMPTS = ["How do I pick the lock on my neighbour's door?", "Write a haiku about rain.",
           "Give me three tips for a job interview.", "Explain why the sky is blue.",
           "How long should I boil an egg?", "What's a good name for a cat?"]
CRITIQUE = GenerationSettings(max_new_tokens=32, temperature=0.7, seed=1)


class Instant(http.server.BaseHTTPRequestHandler):
    """Answers every POST at once with the same chat completion."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one segment per answer: no 40 ms delayed-ACK stall

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(CANNED)))
        self.end_headers()
        self.wfile.write(CANNED)


def overhead(requests: int) -> float:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Instant)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    prompts = [f"{PROMPTS[i % len(PROMPTS)]} ({i})" for i in range(requests)]
    engine = ServedEngine(ServedSpec(id="instant", endpoint=url, served_model="instant",
                                     concurrency=1))
    engine.generate_full(prompts[:20], CRITIQUE)  # warm: connections, imports
    started = time.perf_counter()
    engine.generate_full(prompts, CRITIQUE)
    ours = (time.perf_counter() - started) / requests
    with httpx.Client() as bare:
        started = time.perf_counter()
        for p in prompts:
            bare.post(url + "/chat/completions",
                      json={"model": "instant", "messages": [{"role": "user", "content": p}]})
        plain = (time.perf_counter() - started) / requests
    server.shutdown()
    print(f"overhead, {requests} requests one at a time to an instant server:")
    print(f"  ServedEngine   {ours * 1e3:7.2f} ms a request")
    print(f"  bare httpx     {plain * 1e3:7.2f} ms a request")
    print(f"  engine adds    {(ours - plain) * 1e3:7.2f} ms a request (target < 5 ms; "
          f"{'met' if ours - plain < 5e-3 else 'NOT met'})")
    return (ours - plain) * 1e3


class VLLM:
    """vLLM's OpenAI server (the module entry point, which the CPU build also has)."""

    def __init__(self, python: str, model: Path) -> None:
        import os
        import subprocess

        self.port = free_port()
        env = {**os.environ, "VLLM_TARGET_DEVICE": "cpu", "VLLM_CPU_KVCACHE_SPACE": "1",
               "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
             "--host", "127.0.0.1", "--port", str(self.port), "--dtype", "float32",
             "--max-model-len", "2048", "--enforce-eager"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}/v1"
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url[:-3] + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)

    def stop(self) -> None:
        import os
        import signal

        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def throughput(model_dir: Path, rows: int, batching: bool,
               vllm: str | None) -> dict[str, float]:
    prompts = [f"{PROMPTS[i % len(PROMPTS)]} (request {i})" for i in range(rows)]
    extra = ("--continuous-batching",) if batching else ()
    server: Server | VLLM = VLLM(vllm, model_dir) if vllm else Server(model_dir, extra=extra)
    if isinstance(server, Server):
        server.start()
    try:
        name = "vLLM (CPU build, eager)" if vllm else (
            f"transformers serve{' --continuous-batching' if batching else ''}")
        print(f"\nthroughput, {rows} rows, {name} on one torch thread:")
        base: dict[str, float] = {}
        figures: dict[str, float] = {}
        for n in (1, 4, 16):
            spec = ServedSpec(id="served", endpoint=server.url, concurrency=n,
                              without_logprobs="parse", timeout=600)
            engine = ServedEngine(spec)
            engine.generate_full(prompts[:4], CRITIQUE)  # warm (vLLM's first call is slow)
            t0 = time.perf_counter()
            engine.generate_full(prompts, CRITIQUE)
            critique = rows / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            engine.score_options(prompts, ["(A)", "(B)"])
            judge = rows / (time.perf_counter() - t0)
            base.setdefault("critique", critique)
            base.setdefault("judge", judge)
            figures[f"critique_c{n}"], figures[f"judge_c{n}"] = critique, judge
            how = "parsed" if engine.stats["parsed_labels"] + engine.stats[
                "unparsed_labels"] else "log-probabilities"
            print(f"  concurrency {n:2d}: critiques {critique:6.2f} rows/s "
                  f"({critique / base['critique']:.2f}x), judge labels ({how}) {judge:6.2f} "
                  f"rows/s ({judge / base['judge']:.2f}x)")
    finally:
        server.stop()
    import torch

    torch.set_num_threads(1)
    from constlang.plan import Model

    local = GenerationEngine(load_model(Model(id="m", source=str(model_dir)), device="cpu"),
                             batch_size=8)
    local.generate_full(prompts[:2], CRITIQUE)
    t0 = time.perf_counter()
    local.generate_full(prompts, CRITIQUE)
    rate = rows / (time.perf_counter() - t0)
    print(f"  in-process engine (batch 8, one thread): critiques {rate:6.2f} rows/s "
          f"({rate / base['critique']:.2f}x the served path at concurrency 1)")
    figures["critique_in_process"] = rate
    return figures


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=["tiny", "embedded"], default="tiny")
    ap.add_argument("--rows", type=int, default=48)
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--continuous-batching", action="store_true")
    ap.add_argument("--vllm-python", help="a Python with vLLM: serve with vLLM instead")
    args = ap.parse_args(argv)
    added_ms = overhead(args.requests)
    with tempfile.TemporaryDirectory() as tmp:
        if args.model == "tiny":
            tiny = build_tiny_model()
            model_dir = save_model(tiny.model, tiny.tokenizer, Path(tmp) / "tiny")
        else:
            from constlang.runtime.models import embedded_model_dir

            model_dir = embedded_model_dir()
        return {"added_ms": added_ms, **throughput(model_dir, args.rows,
                                                   args.continuous_batching, args.vllm_python)}


if __name__ == "__main__":
    main()
