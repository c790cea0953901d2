"""Benchmark: the language server's latencies — didChange → diagnostics, hover, completion —
on constitutions/harmless.const and a generated 1,000-principle file, beside the in-process
compile + lint of the same text (what the server cannot avoid doing once per edit).

Run: python benchmarks/bench_lsp.py [--sizes harmless,1000] [--repeat 20] [--debounce-ms 50]
Starts `python -m constlang lsp` as a real client would (pygls' LanguageClient over stdio) and
prints medians and 90th percentiles in milliseconds. A diagnostics latency ends when the
notification has arrived and been parsed as JSON — what an editor does with it; pygls' client
then also builds Python objects from it (cattrs), a cost of this test client that no editor
pays, printed on its own line. Targets: diagnostics ≤ 100 ms on
harmless.const and ≤ 400 ms on 1,000 principles; hover and completion ≤ 50 ms on both.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from bench_language import generate  # noqa: E402
from lsprotocol import types as T  # noqa: E402
from pygls.lsp.client import LanguageClient  # noqa: E402
from pygls.protocol import LanguageServerProtocol  # noqa: E402

ARRIVED: list[float] = []  # when each publishDiagnostics had been read and parsed as JSON


class TimedProtocol(LanguageServerProtocol):
    """pygls' client protocol, noting when a diagnostics notification's JSON is parsed: its
    structuring hook sees the outermost object last, before turning it into Python objects."""

    def structure_message(self, data: dict):  # type: ignore[no-untyped-def]
        if data.get("method") == T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS and "jsonrpc" in data:
            ARRIVED.append(time.perf_counter())
        return super().structure_message(data)


def ms(values: list[float]) -> str:
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
    return f"median {statistics.median(values) * 1000:7.1f} ms  p90 {p90 * 1000:7.1f} ms"


def in_process(path: Path, text: str, repeat: int) -> tuple[list[float], list[float]]:
    """(compile alone, compile + lint + index) of the text, in this process."""
    from constlang.compile import compile_path
    from constlang.lsp.analysis import analyse

    alone, whole = [], []
    for i in range(repeat):
        edited = text + f"\n# edit {i}\n"
        t0 = time.perf_counter()
        compile_path(path, text=edited)
        t1 = time.perf_counter()
        analyse(path, edited, {})
        alone.append(t1 - t0)
        whole.append(time.perf_counter() - t1)
    return alone, whole


async def measure(path: Path, repeat: int, debounce_ms: float) -> dict[str, list[float]]:
    text = path.read_text("utf-8")
    uri = path.as_uri()
    client = LanguageClient("constlang-bench", "1", protocol_cls=TimedProtocol)
    published: asyncio.Queue[T.PublishDiagnosticsParams] = asyncio.Queue()

    @client.feature(T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: T.PublishDiagnosticsParams) -> None:
        published.put_nowait(params)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    await client.start_io(sys.executable, "-m", "constlang", "lsp", env=env)
    await client.initialize_async(T.InitializeParams(
        capabilities=T.ClientCapabilities(), root_uri=path.parent.as_uri(),
        initialization_options={"debounceMs": debounce_ms}))
    client.initialized(T.InitializedParams())
    client.text_document_did_open(T.DidOpenTextDocumentParams(
        T.TextDocumentItem(uri, "constlang", 1, text)))
    first = await published.get()
    assert not [d for d in first.diagnostics if d.severity == T.DiagnosticSeverity.Error], \
        first.diagnostics[:3]
    out: dict[str, list[float]] = {"diagnostics": [], "client decoding": [], "hover": [],
                                   "completion": []}
    for i in range(repeat):
        t0 = time.perf_counter()
        ARRIVED.clear()
        client.text_document_did_change(T.DidChangeTextDocumentParams(
            T.VersionedTextDocumentIdentifier(version=i + 2, uri=uri),
            [T.TextDocumentContentChangeWholeDocument(text + f"\n# edit {i}\n")]))
        while (await published.get()).uri != uri:
            pass
        out["diagnostics"].append(ARRIVED[-1] - t0)
        out["client decoding"].append(time.perf_counter() - ARRIVED[-1])
    lines = text.splitlines()
    # a stage's `model = NAME`: hover on the name, complete at its start
    line, m = next((n, m) for n, s in enumerate(lines)
                   if (m := re.search(r"\bmodel\s*=\s*(\w+)", s)))
    ref = T.Position(line, m.start(1) + 1)
    doc = T.TextDocumentIdentifier(uri)
    for _ in range(repeat):
        t0 = time.perf_counter()
        hover = await client.text_document_hover_async(T.HoverParams(doc, ref))
        out["hover"].append(time.perf_counter() - t0)
        assert hover is not None
    value = T.Position(line, m.start(1))
    for _ in range(repeat):
        t0 = time.perf_counter()
        items = await client.text_document_completion_async(T.CompletionParams(doc, value))
        out["completion"].append(time.perf_counter() - t0)
        assert items
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return out


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="harmless,1000")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--debounce-ms", type=float, default=50.0)
    args = ap.parse_args(argv)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            if size == "harmless":
                path = ROOT / "constitutions" / "harmless.const"
            else:
                (Path(tmp) / "constlang.toml").write_text("", "utf-8")
                (Path(tmp) / "prompts.jsonl").write_text('{"prompt": "hi"}\n', "utf-8")
                path = Path(tmp) / f"bench{size}.const"
                path.write_text(generate(int(size)), "utf-8")
            got = asyncio.run(measure(path, args.repeat, args.debounce_ms))
            alone, base = in_process(path, path.read_text("utf-8"), max(3, args.repeat // 4))
            name = path.name if size == "harmless" else f"{int(size):,} principles"
            print(f"{name} (debounce {args.debounce_ms:g} ms)")
            for what, values in got.items():
                print(f"  {what:<12} {ms(values)}")
            print(f"  {'compile':<12} {ms(alone)}  (in-process, no server)")
            print(f"  {'+ lint':<12} {ms(base)}  (in-process compile + lint + index)")
            ratio = statistics.median(got["diagnostics"]) / statistics.median(base)
            print(f"  diagnostics ÷ in-process: {ratio:.2f}×")
            results[size] = {k: statistics.median(v) for k, v in got.items()}
    return results


if __name__ == "__main__":
    main()
