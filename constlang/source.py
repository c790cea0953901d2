"""Source files and spans: decoding input bytes and mapping offsets to lines and columns."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path

MAX_SOURCE_BYTES = 32 * 1024 * 1024


class SourceError(Exception):
    """The bytes of a file cannot be read as constlang source."""

    def __init__(self, message: str, help: str | None = None, line: int = 1, column: int = 1):
        super().__init__(message)
        self.message = message
        self.help = help
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a file: 1-based lines and columns, end exclusive; offsets into the text."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int = 0
    end: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "column": self.column,
                "end_line": self.end_line, "end_column": self.end_column}


@dataclass
class SourceFile:
    """A decoded source file with its line table."""

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
    def from_bytes(cls, path: str, data: bytes) -> SourceFile:
        return cls(path, decode_source(data))

    @classmethod
    def read(cls, path: Path, display: str | None = None) -> SourceFile:
        shown = display or str(path)
        try:
            size = path.stat().st_size
            if size > MAX_SOURCE_BYTES:
                raise SourceError(f"file is {size:,} bytes; the limit is {MAX_SOURCE_BYTES:,}",
                                  "split the constitution into files joined with `import`")
            data = path.read_bytes()
        except IsADirectoryError:
            raise SourceError("is a directory, not a .const file") from None
        except FileNotFoundError:
            raise SourceError("no such file") from None
        except PermissionError:
            raise SourceError("permission denied") from None
        except OSError as exc:
            raise SourceError(f"cannot read file: {exc.strerror or exc}") from None
        return cls(shown, decode_source(data))

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


def decode_source(data: bytes) -> str:
    """Decode UTF-8 source (a BOM is allowed), normalising CRLF and CR to LF."""
    if b"\x00" in data[:8192]:
        raise SourceError("file looks binary (it contains NUL bytes)",
                          "constlang sources are UTF-8 text files")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1:].decode("utf-8")) + 1
        raise SourceError(
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            "save the file as UTF-8", line, column,
        ) from None
    return normalize_text(text)


def normalize_text(text: str) -> str:
    """Text as the compiler sees it: no byte-order mark, every line ending a LF."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
