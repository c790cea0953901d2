"""Data files: the one bounded reader of JSON Lines input, with errors that name file:line."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from constlang.errors import UserError
from constlang.files import open_regular
from constlang.source import printable_name

# The limits, documented in docs/language.md (`dataset`). A row is one prompt or one judge pair:
# a few hundred kB at most even for long multi-turn prompts, so 4 MiB leaves room while keeping
# a row far below what the tokenizers choke on (about 16 bytes of offsets per input byte).
MAX_LINE_BYTES = 4 * 1024 * 1024  # one row's bytes, its newline not counted
MAX_LINES = 1_000_000  # lines read from one file (blank ones count), `limit` permitting
MAX_FILE_BYTES = 1024**3  # bytes read from one file, `limit` permitting
MAX_NUMBER_CHARS = 100  # one number literal's characters: digits, sign, point, exponent


class DataError(UserError):
    """A data file cannot be read; the message is one line, with the file and line number."""


class _BadValue(ValueError):
    """Raised from inside the JSON parser's hooks; carries the message's tail. An internal
    signal, not a ConstlangError: the reader catches it and raises a DataError."""


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _BadValue(f"a number of {len(text):,} digits (at most {MAX_NUMBER_CHARS} "
                        "characters are read)")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _BadValue(f"a number of {len(text):,} characters (at most {MAX_NUMBER_CHARS} "
                        "are read)")
    value = float(text)
    if not math.isfinite(value):
        raise _BadValue(f"the number {text} is too large for a float")
    return value


def _constant(text: str) -> Any:
    raise _BadValue(f"{text} is not a JSON number (NaN, Infinity and -Infinity are refused)")


_DECODER = json.JSONDecoder(parse_int=_int, parse_float=_float, parse_constant=_constant)


def parse_line(raw: bytes, where: str) -> dict[str, Any]:
    """One line's JSON object; a DataError starting `where` when it is not UTF-8 text, not
    JSON, not an object, nested too deeply, holds a lone surrogate, NaN, Infinity, a number
    too large for a float or a number literal longer than MAX_NUMBER_CHARS. The caller bounds
    the line's length before calling."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                        f"column {exc.start + 1})") from None
    try:
        record = _DECODER.decode(line)
        # JSON may spell a lone surrogate (\ud800), which no UTF-8 output can hold
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: malformed JSON ({exc.msg}, column {exc.colno})") from None
    except _BadValue as exc:
        raise DataError(f"{where}: {exc}") from None
    except UnicodeEncodeError:
        raise DataError(f"{where}: a string holds a lone surrogate (such as \\ud800), which "
                        "is not text") from None
    except RecursionError:
        raise DataError(f"{where}: JSON nested too deeply") from None
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
    return record


def _size(n: int) -> str:
    """A byte count in words: 4 MiB, 1 GiB, or bytes when not a whole MiB."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n:,} bytes"


def read_json_lines(path: Path, *, limit: int | None = None,
                    max_line_bytes: int = MAX_LINE_BYTES, max_lines: int = MAX_LINES,
                    max_bytes: int = MAX_FILE_BYTES) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`file:line`, object) for each non-blank line of a JSON Lines file, at most `limit`.

    Reads a regular file only, a line at a time, and never holds more than one line of it:
    a line longer than `max_line_bytes` is refused before it is parsed, and so is a file
    that goes on past `max_lines` lines or `max_bytes` bytes before `limit` rows are read.
    Every problem, reading included, is a DataError with one line naming file:line (see
    parse_line for what a line may not hold).
    """
    name = printable_name(str(path))
    try:
        fh = open_regular(path)
    except OSError as exc:
        raise DataError(f"{name}: cannot read: {exc.strerror or exc}") from None
    count = total = 0
    with fh:
        for line_no in range(1, max_lines + 2):
            if limit is not None and count >= limit:
                return
            where = f"{name}:{line_no}"
            try:
                raw = fh.readline(max_line_bytes + 1)
            except OSError as exc:
                raise DataError(f"{where}: cannot read: {exc.strerror or exc}") from None
            if not raw:
                return
            if line_no > max_lines:
                raise DataError(f"{where}: more than {max_lines:,} lines; split the file, or "
                                "set the dataset's `limit`")
            total += len(raw)
            if total > max_bytes:
                raise DataError(f"{where}: the file passes {_size(max_bytes)} here; split it, "
                                "or set the dataset's `limit`")
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                raise DataError(f"{where}: a line longer than {_size(max_line_bytes)} (a row "
                                "may hold at most that)")
            if not raw.strip():
                continue
            yield where, parse_line(raw, where)
            count += 1
