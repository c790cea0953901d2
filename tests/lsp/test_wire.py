"""The real `constlang lsp` process under hostile input (issue #17, class 8): after every badly
framed message (bad_frames.py) it still answers the next request, with the JSON-RPC error the
spec asks for; it keeps the LSP lifecycle (-32002 before initialize, -32600 after shutdown,
exit status 1 for an exit without shutdown); and a derandomized hypothesis run hides hover
requests among garbage, each to be answered."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from .bad_frames import BAD, INVALID_REQUEST, NAMES, frame, request, streams

pytest.importorskip("pygls")

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
TEXT = 'constlang 1\n\nmodel assistant {\n  source = "embedded:smollm2-135m-instruct"\n}\n'
DOC = (Path(tempfile.mkdtemp(prefix="constlang-wire-")) / "main.const").as_uri()
WAIT_S = 20


class Wire:
    """A bare JSON-RPC client on the server's stdin and stdout: it sends any bytes at all."""

    def __init__(self) -> None:
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "constlang", "lsp"], env=ENV,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while (line := out.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line or length is None:
                self.inbox.put(None)
                return
            self.inbox.put(json.loads(out.read(length)))

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def answer(self, msg_id: str | int | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The response to `msg_id`, and the other responses before it."""
        before = []
        while True:
            try:
                message = self.inbox.get(timeout=WAIT_S)
            except queue.Empty:
                raise AssertionError(f"no answer to {msg_id!r}: {self.log()}") from None
            assert message is not None, f"the server closed its output: {self.log()}"
            if "method" in message:
                continue  # notifications and requests from the server
            if message.get("id") == msg_id:
                return message, before
            before.append(message)

    def call(self, msg_id: str | int, method: str, params: Any = None) -> dict[str, Any]:
        self.send(frame(request(msg_id, method, params)))
        return self.answer(msg_id)[0]

    def notify(self, method: str, params: Any = None) -> None:
        self.send(frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def start(self) -> None:
        got = self.call("init", "initialize", {"processId": None, "rootUri": None,
                                               "capabilities": {}})
        assert "capabilities" in got["result"], got
        self.notify("initialized", {})
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": DOC, "languageId": "constlang", "version": 1, "text": TEXT}})

    def exit_status(self) -> int:
        try:
            return self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the server did not exit: {self.log()}") from None

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")[-3000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.stderr.close()


def hover(msg_id: str) -> dict[str, Any]:
    return request(msg_id, "textDocument/hover", {
        "textDocument": {"uri": DOC}, "position": {"line": 2, "character": 8}})


def answered_hover(got: dict[str, Any]) -> bool:
    return "assistant" in json.dumps(got.get("result"))


@pytest.fixture(scope="module")
def wire() -> Any:
    w = Wire()
    w.start()
    yield w
    w.close()


@pytest.mark.parametrize(("name", "bad", "error"), BAD, ids=NAMES)
def test_the_server_answers_after_each_bad_message(wire: Wire, name: str, bad: bytes,
                                                   error: int) -> None:
    msg_id = f"after {name}"
    wire.send(bad + frame(hover(msg_id)))
    got, errors = wire.answer(msg_id)
    assert answered_hover(got), got
    assert errors and {(e["id"], e["error"]["code"]) for e in errors} == {(None, error)}, errors


def test_invalid_params_and_unknown_methods_are_answered(wire: Wire) -> None:
    bad = wire.call(1, "textDocument/hover", {"textDocument": {"uri": DOC}})
    assert bad["error"]["code"] == -32602 and "position" in bad["error"]["message"]
    assert wire.call(2, "textDocument/hover", [1, 2])["error"]["code"] == -32602
    assert wire.call(3, "constlang/noSuchMethod", {})["error"]["code"] == -32601
    assert wire.call(4, "initialize", {"capabilities": {}})["error"]["code"] == INVALID_REQUEST
    wire.send(frame({"id": 5, "method": "shutdown"}))  # no "jsonrpc": refused, under its id
    assert wire.answer(5)[0]["error"]["code"] == INVALID_REQUEST


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "12")), deadline=None,
          derandomize=not os.environ.get("FUZZ_EXPLORE"),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=streams(hover, tag="-wire-"))
def test_every_good_request_among_garbage_is_answered(wire: Wire,
                                                      case: tuple[bytes, list[str]]) -> None:
    data, ids = case
    wire.send(data)
    for msg_id in ids:
        got, _ = wire.answer(msg_id)
        assert answered_hover(got), got


def test_lifecycle_before_initialize_and_after_shutdown() -> None:
    w = Wire()
    try:
        assert w.call(1, "textDocument/hover", hover("x")["params"])["error"]["code"] == -32002
        w.notify("textDocument/didOpen", {"textDocument": {
            "uri": DOC, "languageId": "constlang", "version": 1, "text": TEXT}})  # dropped
        bad = w.call(2, "initialize", {"capabilities": 5})
        assert bad["error"]["code"] == -32602
        assert w.call(3, "shutdown")["error"]["code"] == -32002  # still not initialized
        w.start()
        assert answered_hover(w.call(4, "textDocument/hover", hover("x")["params"]))
        assert w.call(5, "shutdown") == {"jsonrpc": "2.0", "id": 5, "result": None}
        after = w.call(6, "textDocument/hover", hover("x")["params"])
        assert after["error"]["code"] == INVALID_REQUEST
        assert w.call(7, "shutdown")["error"]["code"] == INVALID_REQUEST
        w.notify("exit")
        assert w.exit_status() == 0
    finally:
        w.close()


@pytest.mark.parametrize("initialize", [True, False], ids=["initialized", "uninitialized"])
def test_exit_without_shutdown_exits_1(initialize: bool) -> None:
    w = Wire()
    try:
        if initialize:
            w.start()
        w.notify("exit")
        assert w.exit_status() == 1
    finally:
        w.close()


def test_input_ending_inside_a_message_is_answered_and_the_server_exits() -> None:
    w = Wire()
    try:
        w.start()
        assert w.proc.stdin is not None
        w.send(frame(hover("last")) + b"Content-Length: 100\r\n\r\n{\"jsonrpc\"")
        w.proc.stdin.close()
        got, _ = w.answer("last")
        assert answered_hover(got)
        err, _ = w.answer(None)
        assert err["error"]["code"] == -32700
        assert w.exit_status() == 0
    finally:
        w.close()
