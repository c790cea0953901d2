"""The frame reader in process (issue #17, class 8): each kind of bad framing (bad_frames.py)
is reported and the messages after it are read; memory stays bounded whatever Content-Length
says; and hypothesis hides good frames among garbage and mutated frames, every one to be found.

Derandomized like tests/test_fuzz.py: FUZZ_EXAMPLES raises the count, FUZZ_EXPLORE=1 draws
fresh inputs. tests/lsp/test_wire.py drives the real server process with the same inputs."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from constlang.lsp.framing import MAX_BODY_BYTES, Body, FrameReader, Garbled, Rejected, decode

from .bad_frames import BAD, HUGE, NAMES, PARSE_ERROR, frame, request, streams

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get(
    "FUZZ_EXPLORE"), suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
GOOD = frame(request("good"))


def items(data: bytes, chunk: int = 1 << 16, max_body: int = MAX_BODY_BYTES) -> list[object]:
    """Everything the reader makes of `data`, served `chunk` bytes per read."""
    stream = io.BytesIO(data)
    reader = FrameReader(lambda n: stream.read(min(n, chunk)), max_body)
    out: list[object] = []
    while (item := reader.next()) is not None:
        out.append(decode(item.data) if isinstance(item, Body) else item)
    return out


def code(item: object) -> int | None:
    if isinstance(item, Garbled):
        return PARSE_ERROR
    return item.code if isinstance(item, Rejected) else None


@pytest.mark.parametrize("chunk", [1, 7, 1 << 16])
@pytest.mark.parametrize(("name", "bad", "error"), BAD, ids=NAMES)
def test_a_bad_message_is_reported_and_the_next_one_read(name: str, bad: bytes, error: int,
                                                        chunk: int) -> None:
    got = items(bad + GOOD + GOOD, chunk)
    assert got[-2:] == [request("good")] * 2, got
    assert got[:-2] and {code(i) for i in got[:-2]} == {error}, got


def test_duplicated_equal_lengths_and_blank_lines_are_tolerated() -> None:
    body = json.dumps(request("x")).encode()
    twice = b"Content-Length: %d\r\ncontent-length: %d\r\n\r\n" % (len(body), len(body))
    data = b"\r\n" + twice + body + b"\r\n" + GOOD
    assert items(data) == [request("x"), request("good")]


def test_header_words_inside_a_json_string_are_content() -> None:
    text = "Content-Length: 12\r\n\r\nContent-Length: 5\n"
    message = {"jsonrpc": "2.0", "method": "note", "params": {"text": text}}
    assert items(frame(message) + GOOD, chunk=3) == [message, request("good")]


def test_the_limit_is_inclusive() -> None:
    at, over = b"x" * 100, b"x" * 101
    got = items(b"Content-Length: 100\r\n\r\n" + at + b"Content-Length: 101\r\n\r\n" + over,
                max_body=100)
    assert [type(i) for i in got] == [Rejected, Garbled]  # the first read, then refused unread
    assert "over the limit" in got[1].reason  # type: ignore[attr-defined]


def test_the_input_ending_inside_a_message_is_reported_once() -> None:
    assert items(GOOD + b"Content-Length: 100\r\n\r\n{\"a\"") == \
        [request("good"), Garbled("the input ended inside a message body")]
    assert items(GOOD + b"Content-Len") == \
        [request("good"), Garbled("the input ended inside a message header")]


def test_a_huge_length_is_never_allocated() -> None:
    """Content-Length 10**12 followed by 16 MiB of filler and a good message: the reader
    answers, skips the filler a chunk at a time, and finds the message in bounded memory."""
    filler = b"y" * (1 << 20)

    def chunks() -> Iterator[bytes]:
        yield b"Content-Length: %d\r\n\r\n" % HUGE
        yield from (filler for _ in range(16))
        yield GOOD

    source = chunks()
    tracemalloc.start()
    try:
        reader = FrameReader(lambda n: next(source, b""))
        first, second = reader.next(), reader.next()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(first, Garbled) and "over the limit" in first.reason
    assert isinstance(second, Body) and decode(second.data) == request("good")
    assert peak < 4 * len(filler), peak  # a chunk or two, never the declared length


@FUZZ
@given(streams(lambda msg_id: request(msg_id, "textDocument/hover")),
       st.sampled_from([1, 5, 64, 1 << 16]))
def test_every_good_frame_survives_the_garbage_around_it(case: tuple[bytes, list[str]],
                                                         chunk: int) -> None:
    data, ids = case
    got = items(data, chunk)
    found = [i["id"] for i in got if isinstance(i, dict) and str(i.get("id")).startswith("good")]
    assert found == ids
    assert all(isinstance(i, (dict, Garbled, Rejected)) for i in got)
