"""Hostile LSP input for the framing tests (issue #17, class 8): badly framed messages, each
with the JSON-RPC error it must earn, and a hypothesis strategy that hides good frames among
garbage. Data only (no constlang import), so the tests also run against a server without the
fix, where they fail."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
HUGE = 10**12


def frame(obj: object) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def request(msg_id: str, method: str = "shutdown", params: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        out["params"] = params
    return out


_X = json.dumps(request("x")).encode()

# (name, bytes, the error each yields): a bad message the good one after it must survive.
BAD: list[tuple[str, bytes, int]] = [
    ("short length", b"Content-Length: 5\r\n\r\n" + _X, PARSE_ERROR),
    ("long length", b"Content-Length: 300\r\n\r\n" + _X, PARSE_ERROR),
    ("length a few bytes long", b"Content-Length: 11\r\n\r\n{\"a\": 1}", PARSE_ERROR),
    ("negative length", b"Content-Length: -5\r\n\r\n{\"a\": 1}", PARSE_ERROR),
    ("non-numeric length", b"Content-Length: ten\r\n\r\n{\"a\": 1}", PARSE_ERROR),
    ("length 0", b"Content-Length: 0\r\n\r\n", PARSE_ERROR),
    ("missing header", b"Content-Type: application/vscode-jsonrpc\r\n\r\n{}", PARSE_ERROR),
    ("no header at all", _X, PARSE_ERROR),
    ("duplicated header", b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", PARSE_ERROR),
    ("huge length", b"Content-Length: %d\r\n\r\n" % HUGE, PARSE_ERROR),
    ("thousand-digit length", b"Content-Length: " + b"9" * 1000 + b"\r\n\r\n", PARSE_ERROR),
    ("header line over the limit", b"X-Pad: " + b"a" * 70_000 + b"\r\n\r\n", PARSE_ERROR),
    ("non-UTF-8 body", b"Content-Length: 6\r\n\r\n\xff\xfe{\"\"}", PARSE_ERROR),
    ("invalid JSON", b"Content-Length: 4\r\n\r\n{{{{", PARSE_ERROR),
    ("deep nesting", b"Content-Length: 100000\r\n\r\n" + b"[" * 100_000, PARSE_ERROR),
    ("byte garbage", b"\x00\x01\x02 hello \xff", PARSE_ERROR),
    ("batch array", frame([request("x")]), INVALID_REQUEST),
    ("JSON scalar", frame(42), INVALID_REQUEST),
    ("no jsonrpc member", frame({"method": "shutdown", "params": {}}), INVALID_REQUEST),
    ("id of the wrong type", frame({"jsonrpc": "2.0", "id": [1], "method": "x"}),
     INVALID_REQUEST),
]
NAMES = [b[0] for b in BAD]

NEAR_MISSES = [
    b"Content-Length: ", b"Content-Length: 3", b"Content-Length: 7\r\n",
    b"Content-Length: 99\r\n\r\n{", b"content-length:5\n\n", b"\r\n\r\n", b"Content-Type: x\r\n",
    b"Content-Length: 1000000000000000\r\n", b"{\"a\":", b"Content-Length: 40\r\n\r\n"]


def _mutated(draw: st.DrawFn, data: bytearray) -> bytes:
    """`data` with a few bytes replaced, deleted or inserted anywhere."""
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["replace", "delete", "insert"]))
        junk = draw(st.binary(min_size=1, max_size=4))
        if op == "insert":
            data[at:at] = junk
        elif op == "delete":
            del data[at:at + len(junk)]
        else:
            data[at:at + len(junk)] = junk
    return bytes(data)


@st.composite
def streams(draw: st.DrawFn, good: Callable[[str], dict[str, Any]],
            tag: str = "") -> tuple[bytes, list[str]]:
    """Good frames (`good(id)`, ids unique) each after some garbage: random bytes, a near-miss
    header, a mutated frame or a frame whose length is off by a little (as from a client that
    counts characters, not bytes)."""
    data, ids = bytearray(), []
    for n in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["bytes", "header", "mutated", "length", "none"]))
        if kind == "bytes":
            data += draw(st.binary(max_size=40))
        elif kind == "header":
            data += draw(st.sampled_from(NEAR_MISSES))
        elif kind == "mutated":
            data += _mutated(draw, bytearray(frame(request(f"m{n}", "textDocument/hover"))))
        elif kind == "length":
            body = json.dumps(request(f"l{n}", "textDocument/hover")).encode()
            wrong = max(0, len(body) + draw(st.integers(-30, 40).filter(bool)))
            data += b"Content-Length: %d\r\n\r\n" % wrong + body
        ids.append(f"good{tag}{n}")
        data += frame(good(ids[-1]))
    return bytes(data), ids
