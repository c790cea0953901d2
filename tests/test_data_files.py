"""Data files (issue #17, class 6): the one JSON Lines reader and every reader built on it
(prompt datasets, judge pairs, preference rows) refuse huge numbers, NaN, Infinity, deep
nesting, over-long lines, non-UTF-8 bytes and over-long files with one DataError naming
file:line, and nothing else ever escapes them (a hypothesis fuzz of mutated lines).

The fuzz is derandomized like tests/test_fuzz.py: FUZZ_EXAMPLES raises the count and
FUZZ_EXPLORE=1 draws fresh inputs."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from constlang import plan as P
from constlang.jsonl import MAX_LINE_BYTES, DataError, read_json_lines
from constlang.preview import first_prompt
from constlang.runtime.data import read_prompts
from constlang.runtime.judge_check import read_pairs
from constlang.runtime.preference_rows import read_preferences

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get(
    "FUZZ_EXPLORE"), suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.function_scoped_fixture])

MESSAGES = [{"role": "user", "content": "m"}]
PAIR = {"prompt": "p", "better": "b", "worse": "w"}
PREFERENCE = {"format": 2, "index": 0, "p_chosen": 0.5, "prompt": MESSAGES, "chosen": MESSAGES,
              "rejected": MESSAGES}
BIG = "9" * 5000  # past Python's 4300-digit limit on int(str)
NUMBER, FLOAT, CONSTANT, DEEP = ("a number of", "too large for a float", "is not a JSON number",
                                 "nested too deeply")

# a value spelled straight into a good row's JSON text, and what the refusal says
BAD_VALUES = {
    "big-int": (BIG, NUMBER),
    "big-negative-int": ("-" + BIG, NUMBER),
    "int-101-digits": ("1" * 101, NUMBER),
    "big-int-in-array": (f"[1, 2, {BIG}]", NUMBER),
    "big-int-in-object": (f'{{"a": {{"b": [{BIG}]}}}}', NUMBER),
    "big-int-with-exponent": (BIG + "e5", NUMBER),
    "long-mantissa": ("0." + "1" * 200, NUMBER),
    "big-exponent": ("1e999999", FLOAT),
    "big-negative-exponent": ("-1e999999", FLOAT),
    "exponent-400": ("1E400", FLOAT),
    "float-past-max": ("1.8e308", FLOAT),
    "nan": ("NaN", CONSTANT),
    "infinity": ("Infinity", CONSTANT),
    "negative-infinity": ("-Infinity", CONSTANT),
    "nan-in-array": ("[1, NaN]", CONSTANT),
    "deep-nesting": ("[" * 100_000 + "]" * 100_000, DEEP),
    "deep-objects": ('{"a": ' * 50_000 + "1" + "}" * 50_000, DEEP),
}
# each reader, with a row it accepts
READERS: dict[str, tuple[Callable[[Path], Any], dict[str, Any]]] = {
    "read_json_lines": (lambda p: list(read_json_lines(p)), {"a": 1}),
    "read_prompts": (lambda p: read_prompts(P.Dataset(id="d", path=p.name), p.parent),
                     {"prompt": "p"}),
    "read_pairs": (read_pairs, PAIR),
    "read_preferences": (read_preferences, PREFERENCE),
}


def write(tmp_path: Path, content: bytes | str, name: str = "rows.jsonl") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def refused(read: Callable[[Path], Any], path: Path, line: int, why: str) -> None:
    """`read` raises a one-line DataError naming path:line and saying `why`."""
    with pytest.raises(DataError) as info:
        read(path)
    message = str(info.value)
    assert "\n" not in message
    assert re.search(rf"{re.escape(path.name)}:{line}: .*{why}", message), message


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("key", ["id", "extra"])
@pytest.mark.parametrize("value", BAD_VALUES)
def test_a_bad_value_is_refused_by_every_reader(tmp_path: Path, reader: str, key: str,
                                                value: str) -> None:
    read, good = READERS[reader]
    spelling, why = BAD_VALUES[value]
    line = json.dumps(good)
    text = line + "\n" + line[:-1] + f', "{key}": {spelling}}}\n'
    refused(read, write(tmp_path, text), 2, why)


@pytest.mark.parametrize("spelling", ["1" * 100, "-" + "1" * 99, "1e308", "1e-400", "-0",
                                      "0." + "1" * 98, "123456789012345678901234567890"])
def test_numbers_up_to_the_bound_are_read(tmp_path: Path, spelling: str) -> None:
    path = write(tmp_path, f'{{"prompt": "p", "id": {spelling}}}\n')
    assert [r for _, r in read_json_lines(path)] == [{"prompt": "p", "id": json.loads(spelling)}]
    value = json.loads(spelling)
    ident = read_prompts(P.Dataset(id="d", path=path.name), tmp_path)[0].prompt_id
    assert ident == (str(value) if isinstance(value, int) else "d-0")  # a float is no id


def row_of(size: int) -> bytes:
    """A prompt row of exactly `size` bytes, its newline not counted."""
    head, tail = b'{"prompt": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("newline", [b"\n", b""], ids=["newline", "at-eof"])
def test_a_line_past_the_bound_is_refused_before_it_is_parsed(
        tmp_path: Path, reader: str, newline: bytes) -> None:
    read, good = READERS[reader]
    path = write(tmp_path, json.dumps(good).encode() + b"\n" + row_of(MAX_LINE_BYTES + 1) +
                 newline)
    refused(read, path, 2, "a line longer than 4 MiB")


@pytest.mark.parametrize("newline", [b"\n", b""], ids=["newline", "at-eof"])
def test_a_line_at_the_bound_is_read(tmp_path: Path, newline: bytes) -> None:
    path = write(tmp_path, row_of(MAX_LINE_BYTES) + newline)
    rows = read_prompts(P.Dataset(id="d", path=path.name), tmp_path)
    assert len(rows[0].prompt) == MAX_LINE_BYTES - len('{"prompt": ""}')


def test_the_bounds_can_be_chosen_and_count_what_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": 1}\n\n{"a": 2}\n{"a": 3}\n')
    assert len(list(read_json_lines(path, max_lines=4))) == 3
    with pytest.raises(DataError, match=r"rows\.jsonl:3: more than 2 lines"):
        list(read_json_lines(path, max_lines=2))  # blank lines count
    assert len(list(read_json_lines(path, max_lines=2, limit=1))) == 1  # never read further
    with pytest.raises(DataError, match=r"rows\.jsonl:3: the file passes 12 bytes here"):
        list(read_json_lines(path, max_bytes=12))
    with pytest.raises(DataError, match=r"rows\.jsonl:1: a line longer than 7 bytes"):
        list(read_json_lines(path, max_line_bytes=7))
    assert len(list(read_json_lines(path, max_line_bytes=8))) == 3  # the newline not counted


@pytest.mark.parametrize(("content", "why"), [
    (b'{"prompt": "caf\xe9"}\n', r"not UTF-8 text \(byte 0xe9 at column 16\)"),
    (b"\xff\xfe{}\n", "not UTF-8 text"),
    (b'{"prompt": "\\ud800"}\n', "lone surrogate"),
    (b'{"prompt": "a"}{"prompt": "b"}\n', "malformed JSON"),
    (b'"just a string"\n', "expected a JSON object, got str"),
    (b"\x00\n", "malformed JSON"),
])
def test_bytes_that_are_not_json_objects(tmp_path: Path, content: bytes, why: str) -> None:
    refused(READERS["read_json_lines"][0], write(tmp_path, content), 1, why)


def test_a_folder_or_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read: is a directory"):
        list(read_json_lines(tmp_path))
    path = write(tmp_path, "NaN\n", os.fsdecode(b"bad\xff.jsonl"))
    with pytest.raises(DataError, match=r"bad\\xff\.jsonl:1: NaN") as info:
        list(read_json_lines(path))
    str(info.value).encode("utf-8")  # printable


def test_the_preview_shows_no_prompt_from_a_refused_row(tmp_path: Path) -> None:
    plan = P.Plan.model_construct(datasets=[P.Dataset(id="d", path="rows.jsonl")])
    write(tmp_path, '{"prompt": "shown"}\n')
    assert first_prompt(plan, "d", tmp_path) == "shown"
    write(tmp_path, '{"prompt": "hidden", "id": NaN}\n')
    assert first_prompt(plan, "d", tmp_path) is None
    write(tmp_path, "\n" * 1000 + '{"prompt": "too far"}\n')
    assert first_prompt(plan, "d", tmp_path) is None


# -- the fuzz: mutated JSONL lines give rows or a located DataError, never anything else -------

PIECES = ["NaN", "Infinity", "-Infinity", BIG, "1e999999", "-", "e", "E+", ".", "0", "[", "]",
          "{", "}", '"', "\\", "\\u", "\\ud800", ":", ",", "\n", "\r\n", "\x00", "\ufeff",
          "\u2028", '"id": ', "true", "null", "[" * 3000]


@st.composite
def jsonl_bytes(draw: st.DrawFn) -> bytes:
    """A few good rows, then mutations: pieces of JSON trouble inserted, bytes cut or
    flipped, raw bytes appended."""
    rows = [json.dumps(good) for _, good in READERS.values()]
    text = "\n".join(draw(st.lists(st.sampled_from([*rows, '{"prompt": "x", "id": 7}', "",
                                                    "[]", '{"a": [1.5, -2e3]}']),
                                   min_size=1, max_size=4))) + "\n"
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(text)))
        piece = draw(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)))
        text = text[:at] + piece + text[at + draw(st.integers(0, 3)):]
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data += draw(st.binary(max_size=16))
    return data


@FUZZ
@given(data=jsonl_bytes(), reader=st.sampled_from(sorted(READERS)),
       bound=st.sampled_from([MAX_LINE_BYTES, 64]))
def test_fuzz_rows_or_a_located_data_error(tmp_path: Path, data: bytes, reader: str,
                                           bound: int) -> None:
    path = write(tmp_path, data)
    read = READERS[reader][0] if bound == MAX_LINE_BYTES else (
        lambda p: list(read_json_lines(p, max_line_bytes=bound)))
    try:
        read(path)
    except DataError as exc:
        message = str(exc)
        assert "\n" not in message
        message.encode("utf-8")
        assert re.match(rf"(dataset `d`: )?{re.escape(str(path))}(:\d+:| has no)", message), \
            message
