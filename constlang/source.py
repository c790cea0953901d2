"""Source files: decoding input bytes and mapping offsets to lines and columns (spans)."""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from constlang.errors import UserError
from constlang.span import Span

MAX_SOURCE_BYTES = 32 * 1024 * 1024
# folders never searched for .const files (hidden ones neither): tools', environments', runs'
SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", "runs"})


class SourceError(UserError):
    """The bytes of a file cannot be read as constlang source; `line` and `column` say where.
    The compiler reports it as E003 at that place, `fmt` as one located line."""

    def __init__(self, message: str, help: str | None = None, line: int = 1, column: int = 1):
        super().__init__(message)
        self.message = message
        self.help = help
        self.line = line
        self.column = column


@dataclass
class SourceText:
    """A decoded source file's text with its line table (the plan's record of a source file
    is `plan.SourceFile`)."""

    path: str  # as shown to users
    text: str
    _starts: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        starts = [0]
        text = self.text
        i = text.find("\n")
        while i != -1:
            starts.append(i + 1)
            i = text.find("\n", i + 1)
        self._starts = starts

    @classmethod
    def from_bytes(cls, path: str, data: bytes) -> SourceText:
        return cls(path, decode_source(data))

    @classmethod
    def read(cls, path: Path, display: str | None = None) -> SourceText:
        shown = display or str(path)
        return cls(shown, decode_source(read_source_bytes(path)))

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        idx = bisect.bisect_right(self._starts, offset) - 1
        return idx + 1, offset - self._starts[idx] + 1

    def span(self, start: int, end: int) -> Span:
        line, col = self.position(start)
        end_line, end_col = self.position(end)
        return Span(self.path, line, col, end_line, end_col, start, end)

    def line_text(self, line: int) -> str:
        if line < 1 or line > len(self._starts):
            return ""
        start = self._starts[line - 1]
        end = self._starts[line] - 1 if line < len(self._starts) else len(self.text)
        return self.text[start:end].rstrip("\r")

    @property
    def line_count(self) -> int:
        return len(self._starts)


def read_source_bytes(path: Path) -> bytes:
    """The bytes of a source file: a regular file, read with a bound; SourceError otherwise."""
    from constlang.files import FileTooLarge, NotRegularFile, read_bounded

    try:
        return read_bounded(path, MAX_SOURCE_BYTES)
    except FileTooLarge:
        raise SourceError(f"file is larger than the limit of {MAX_SOURCE_BYTES:,} bytes",
                          "split the constitution into files joined with `import`") from None
    except IsADirectoryError:
        raise SourceError("is a directory, not a .const file") from None
    except NotRegularFile as exc:
        raise SourceError(f"{exc.strerror}; constlang reads only regular files") from None
    except FileNotFoundError:
        raise SourceError("no such file") from None
    except PermissionError:
        raise SourceError("permission denied") from None
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror or exc}") from None


def decode_source(data: bytes) -> str:
    """Decode UTF-8 source (a BOM is allowed), normalising CRLF and CR to LF.

    Every input path (a file, an import, `fmt -`) goes through here, so all get the same
    checks: no NUL byte anywhere, valid UTF-8, at most MAX_SOURCE_BYTES.
    """
    if len(data) > MAX_SOURCE_BYTES:
        raise SourceError(f"input is larger than the limit of {MAX_SOURCE_BYTES:,} bytes",
                          "split the constitution into files joined with `import`")
    nul = data.find(b"\x00")
    if nul != -1:
        line, column = _byte_position(data, nul)
        raise SourceError("file looks binary (it contains a NUL byte)",
                          "constlang sources are UTF-8 text files", line, column)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _byte_position(data, exc.start)
        raise SourceError(
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            "save the file as UTF-8", line, column,
        ) from None
    return normalize_text(text)


def normalize_text(text: str) -> str:
    """Text as the compiler sees it: no byte-order mark, every line ending a LF."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def utf8_name(name: str) -> bool:
    """Whether a file name (as Python decodes it from the file system) is valid UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable_name(name: str) -> str:
    """A file name that prints anywhere: bytes that are not UTF-8 become \\xNN escapes."""
    if utf8_name(name):
        return name
    return os.fsencode(name).decode("utf-8", "backslashreplace")


_NOT_TEXT_RE = re.compile("[\x00\ud800-\udfff]")


def check_text(text: str) -> str:
    """In-memory text (an editor buffer, `compile_text`) held to the rules bytes from a file
    are: no NUL, and nothing UTF-8 cannot encode (a lone surrogate from a JSON `\\ud800`)."""
    bad = _NOT_TEXT_RE.search(text)
    if bad is None:
        return text
    line = text.count("\n", 0, bad.start()) + 1
    column = bad.start() - text.rfind("\n", 0, bad.start())
    if bad.group() == "\x00":
        raise SourceError("file looks binary (it contains a NUL byte)",
                          "constlang sources are UTF-8 text files", line, column)
    raise SourceError(f"text holds a lone surrogate (U+{ord(bad.group()):04X}), which is not "
                      "valid UTF-8", "remove it, or write the character it was meant to be "
                      "paired with", line, column)


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a byte offset, counting the columns in characters."""
    before = data[:offset].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    line = before.count(b"\n") + 1
    column = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
    return line, column


def const_files_under(folder: Path) -> Iterator[Path]:
    """The .const files under a folder, folder by folder and in name order within each,
    skipping SKIP_DIRS and hidden folders."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(".const"):
                yield Path(dirpath) / name
