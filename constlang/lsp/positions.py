"""LSP positions: offsets and spans of constlang source ↔ LSP lines, characters and URIs."""

from __future__ import annotations

import bisect
import functools
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types as T
from pygls.uris import from_fs_path

from constlang.span import Span


def path_of(uri: str) -> Path | None:
    """The file a `file:` URI names, resolved; None for other schemes."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path)).resolve()


@functools.lru_cache(maxsize=4096)
def uri_of(path: Path) -> str:
    return from_fs_path(str(path)) or path.as_uri()


class LineIndex:
    """Converts between character offsets of a text and LSP positions in one encoding."""

    def __init__(self, text: str, encoding: str = "utf-16"):
        self.text = text
        self.encoding = encoding
        starts = [0]
        i = text.find("\n")
        while i != -1:
            starts.append(i + 1)
            i = text.find("\n", i + 1)
        self.starts = starts

    def _units(self, chunk: str) -> int:
        if self.encoding == "utf-32" or chunk.isascii():
            return len(chunk)
        if self.encoding == "utf-8":
            return len(chunk.encode("utf-8"))
        return len(chunk.encode("utf-16-le")) // 2

    def position(self, offset: int) -> T.Position:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        return T.Position(line, self._units(self.text[self.starts[line]:offset]))

    def offset(self, pos: T.Position) -> int:
        """The offset of a position (clamped to the text; past a line's end: its end)."""
        if pos.line >= len(self.starts):
            return len(self.text)
        start = self.starts[pos.line]
        end = self.starts[pos.line + 1] - 1 if pos.line + 1 < len(self.starts) else len(self.text)
        line = self.text[start:end]
        if self.encoding == "utf-32" or line.isascii():
            return start + min(pos.character, len(line))
        units = 0
        for i, ch in enumerate(line):
            if units >= pos.character:
                return start + i
            units += self._units(ch)
        return end

    def json_position(self, offset: int) -> dict[str, int]:
        """`position` as the JSON object LSP sends (no typed object: many are built at once)."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        return {"line": line, "character": self._units(self.text[self.starts[line]:offset])}

    def span_json(self, span: Span) -> dict[str, dict[str, int]]:
        """`span_range` as the JSON object LSP sends."""
        if span.end > span.start or (span.start and span.end == span.start):
            start, end = span.start, span.end
        else:  # built without offsets: placed by line and column
            start = self.line_col(span.line, span.column)
            end = self.line_col(span.end_line, span.end_column)
        return {"start": self.json_position(start), "end": self.json_position(end)}

    def range(self, start: int, end: int) -> T.Range:
        return T.Range(self.position(start), self.position(end))

    def span_range(self, span: Span) -> T.Range:
        """The range of a span; spans built without offsets are placed by line and column."""
        if span.end > span.start or (span.start and span.end == span.start):
            return self.range(span.start, span.end)
        return self.range(self.line_col(span.line, span.column),
                          self.line_col(span.end_line, span.end_column))

    def line_col(self, line: int, column: int) -> int:
        """The offset of a 1-based line and column."""
        if line < 1:
            return 0
        if line > len(self.starts):
            return len(self.text)
        return min(self.starts[line - 1] + column - 1, len(self.text))
