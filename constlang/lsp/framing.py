"""Framing: the LSP wire format, read with bounds and resynchronised after bad input."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The largest body accepted. The compiler refuses sources over 32 MiB (source.MAX_SOURCE_BYTES);
# a didOpen or full didChange carrying one, JSON-escaped, can reach twice that in the worst
# realistic case (every character a quote or backslash), so 64 MiB admits every source the
# compiler would read and refuses the rest before a byte of the body is held.
MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024  # a whole header block; real clients send under 100 bytes
CHUNK = 64 * 1024

PARSE_ERROR = -32700
INVALID_REQUEST = -32600

# Where a message may begin: a Content-Length line. None can occur inside a valid JSON body:
# outside strings the words are not JSON, and inside one a raw line break is not allowed. So
# finding one inside a body proves the declared length wrong, and a reader that lost its place
# finds the next message by looking for one.
_NAME = b"content-length:"
_SPELLINGS = (b"Content-Length:", _NAME)
_MARKER = re.compile(rb"(?i:content-length:)[ \t]{0,16}\d{1,20}[ \t]{0,16}\r?\n")
_MARKER_MAX = len(_NAME) + 16 + 20 + 16 + 2
_MARKER_TAIL = re.compile(rb"[ \t]{0,16}(?:\d{1,20}(?:[ \t]{0,16}\r?)?)?")
_HEADER = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*")


@dataclass(frozen=True)
class Body:
    """One message's body, exactly as many bytes as its Content-Length said."""
    data: bytes


@dataclass(frozen=True)
class Garbled:
    """Bytes that were not a well-formed message; `reason` says why, for the -32700 reply."""
    reason: str


@dataclass(frozen=True)
class Rejected:
    """A body that is not a JSON-RPC message: the error to answer with, and the id if known."""
    code: int
    reason: str
    id: int | str | None = None


def _find_marker(buf: bytearray, start: int, end: int, lo: int | None = None) -> int:
    """Where the first Content-Length line ending in buf[start:end] (and beginning at `lo` or
    later; by default at `start`) begins, or -1. The scan looks for the name as the spec
    spells it, or in lower case, with bytes.find: a case-blind regex over a 64 MiB body would
    take half a second, these take a fiftieth."""
    lo = start if lo is None else lo
    best = -1
    for spelling in _SPELLINGS:
        pos = max(lo, start - _MARKER_MAX)
        while (at := buf.find(spelling, pos, end if best < 0 else best)) >= 0:
            if _MARKER.match(buf, at, end):
                best = at
                break
            pos = at + 1
    return best


def _marker_prefix(tail: bytes) -> bool:
    """Whether `tail` could be the start of a Content-Length line cut off by the end of a body."""
    low = tail[:len(_NAME)].lower()
    if len(tail) <= len(_NAME):
        return _NAME.startswith(low)
    return low == _NAME and _MARKER_TAIL.fullmatch(tail[len(_NAME):]) is not None


class FrameReader:
    """Splits a byte stream into `Body` and `Garbled` items. `read(n)` returns at most n bytes
    (fewer when fewer are ready; b"" at the end). Memory stays under MAX_BODY_BYTES plus a
    header block and a chunk, whatever the stream declares."""

    def __init__(self, read: Callable[[int], bytes], max_body: int = MAX_BODY_BYTES) -> None:
        self._read = read
        self._max_body = max_body
        self._buf = bytearray()
        self._eof = False
        self._resync_from: int | None = None  # where to look for the next message, if lost

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self._read(CHUNK)
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        return True

    def next(self) -> Body | Garbled | None:
        """The next item, or None at the end of the stream."""
        if self._resync_from is not None:
            start, self._resync_from = self._resync_from, None
            if not self._resync(start):
                return None
        return self._frame()

    def _resync(self, start: int) -> bool:
        """Drop bytes up to the next Content-Length line from `start` on; False at the end."""
        while True:
            found = _find_marker(self._buf, start, len(self._buf))
            if found >= 0:
                del self._buf[:found]
                return True
            keep = max(start, len(self._buf) - _MARKER_MAX)  # a line may be cut by the chunk
            del self._buf[:keep]
            start = 0
            if not self._fill():
                self._buf.clear()
                return False

    def _lost(self, reason: str, resync_from: int) -> Garbled:
        self._resync_from = resync_from
        return Garbled(reason)

    def _frame(self) -> Body | Garbled | None:
        """One message from the start of the buffer. On a bad header line the search for the
        next message starts one byte into that line, so a message glued onto the end of
        garbage (its Content-Length line run into the garbage's last line) is still found."""
        length: int | None = None
        pos = 0
        while True:
            newline = self._buf.find(b"\n", pos)
            if newline < 0:
                if len(self._buf) > MAX_HEADER_BYTES:
                    return self._lost(f"the headers are over {MAX_HEADER_BYTES} bytes", 1)
                if not self._fill():
                    rest = bytes(self._buf).strip()
                    self._buf.clear()
                    return Garbled("the input ended inside a message header") if rest else None
                continue
            start, pos = pos, newline + 1
            if pos > MAX_HEADER_BYTES:
                return self._lost(f"the headers are over {MAX_HEADER_BYTES} bytes", 1)
            line = bytes(self._buf[start:newline]).removesuffix(b"\r")
            if not line:
                if start == 0:
                    del self._buf[:pos]  # a blank line between messages: pass over it
                    pos = 0
                    continue
                break
            match = _HEADER.fullmatch(line)
            if match is None or _find_marker(self._buf, start + 1, pos) >= 0:
                return self._lost(f"not a message header: {line[:40]!r}", start + 1)
            if match.group(1).lower() != b"content-length":
                continue  # Content-Type and anything else: the body is UTF-8 JSON regardless
            value = match.group(2)
            if not value.isdigit():
                return self._lost(f"Content-Length is not a number: {value[:20]!r}", start + 1)
            if len(value) > 20 or int(value) > self._max_body:
                return self._lost(f"Content-Length {value[:20].decode()} is over the limit of "
                                  f"{self._max_body} bytes", start + 1)
            if length is not None and int(value) != length:
                # Two lengths: the later line may well begin the next message.
                return self._lost("two different Content-Length headers", start)
            length = int(value)
        if length is None:
            return self._lost("a message without a Content-Length header", 1)
        return self._body(pos, length)

    def _body(self, start: int, length: int) -> Body | Garbled | None:
        """The `length` bytes after the headers (which end at `start`), unless a Content-Length
        line turns up among them: then the length was wrong and the next message starts there."""
        scanned = start
        while True:
            end = min(len(self._buf), start + length)
            found = _find_marker(self._buf, scanned, end, lo=start)
            if found >= 0:
                del self._buf[:found]
                return Garbled("Content-Length is longer than the message")
            scanned = end
            if len(self._buf) >= start + length:
                break
            if not self._fill():
                self._buf.clear()
                return Garbled("the input ended inside a message body")
        with memoryview(self._buf) as view:
            data = bytes(view[start:start + length])
        del self._buf[:start + length]
        for cut in range(max(0, length - _MARKER_MAX), length):
            if data[cut] in b"cC" and _marker_prefix(data[cut:]):
                # The length ran a few bytes into the next message's header: give them back.
                self._buf[:0] = data[cut:]
                return Garbled("Content-Length is longer than the message")
        return Body(data)


def decode(body: bytes) -> dict[str, Any] | Rejected:
    """A body as a JSON-RPC message object, or the error it earns."""
    try:
        parsed = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return Rejected(PARSE_ERROR, "the message is not UTF-8")
    except (ValueError, RecursionError) as exc:
        return Rejected(PARSE_ERROR, f"the message is not JSON: {str(exc)[:200]}")
    if isinstance(parsed, list):
        return Rejected(INVALID_REQUEST, "batches are not part of the Language Server Protocol")
    if not isinstance(parsed, dict):
        return Rejected(INVALID_REQUEST, "a message must be a JSON object")
    raw_id = parsed.get("id")
    msg_id = raw_id if isinstance(raw_id, (int, str)) and not isinstance(raw_id, bool) else None
    if parsed.get("jsonrpc") != "2.0":
        return Rejected(INVALID_REQUEST, 'a message must say "jsonrpc": "2.0"', msg_id)
    if "method" in parsed:
        if not isinstance(parsed["method"], str):
            return Rejected(INVALID_REQUEST, "a method name must be a string", msg_id)
        if "id" in parsed and msg_id is None:
            return Rejected(INVALID_REQUEST, "a request id must be an integer or a string")
    elif msg_id is None or ("result" not in parsed and "error" not in parsed):
        return Rejected(INVALID_REQUEST, "neither a request, a notification nor a response")
    return parsed
