"""Fix: apply the edits of fixes to source text, keeping everything else byte for byte."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from constlang.errors import Diagnostic, Edit
from constlang.files import atomic_write_bytes


def applicable(d: Diagnostic, unsafe: bool) -> bool:
    return d.fix is not None and (d.fix.safe or unsafe)


def apply_fixes(text: str, diagnostics: Iterable[Diagnostic], unsafe: bool = False
                ) -> tuple[str, list[Diagnostic]]:
    """The text with every applicable fix whose edits overlap no earlier fix; and those fixed.

    Fixes are taken in source order; one that touches a region an earlier fix changed waits
    for the next pass (the caller re-lints and applies again).
    """
    chosen: list[Diagnostic] = []
    taken: list[tuple[int, int]] = []
    candidates = sorted((d for d in diagnostics if applicable(d, unsafe)),
                        key=lambda d: min(e.start for e in d.fix.edits))  # type: ignore[union-attr]
    for d in candidates:
        assert d.fix is not None
        spans = [(e.start, e.end) for e in d.fix.edits]
        if any(_overlap(s, t) for s in spans for t in taken):
            continue
        chosen.append(d)
        taken.extend(spans)
    edits: list[Edit] = sorted((e for d in chosen for e in d.fix.edits),  # type: ignore[union-attr]
                               key=lambda e: (e.start, e.end), reverse=True)
    for e in edits:
        text = text[:e.start] + e.text + text[e.end:]
    return text, chosen


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Two edits collide if their ranges intersect, or both insert at one offset."""
    return a[0] < b[1] and b[0] < a[1] or a[0] == b[0] or (a[0] == a[1] and b[0] <= a[0] <= b[1]) \
        or (b[0] == b[1] and a[0] <= b[0] <= a[1])


@dataclass
class OnDisk:
    """How a file's text is stored, so that writing it back keeps its newlines and BOM."""

    crlf: bool
    bom: bool

    @classmethod
    def of(cls, path: Path) -> OnDisk:
        raw = path.read_bytes()
        return cls(b"\r\n" in raw, raw.startswith(b"\xef\xbb\xbf"))

    def write(self, path: Path, text: str) -> None:
        if self.crlf:
            text = text.replace("\n", "\r\n")
        data = text.encode("utf-8")
        if self.bom:
            data = b"\xef\xbb\xbf" + data
        atomic_write_bytes(path, data)
