"""Baseline: record today's findings in a file, and later report only the ones not in it.

A finding is matched by file, code, message and the text of its source line (not the line
number), so edits elsewhere in a file do not make old findings look new. Each entry has a
count: two identical findings on identical lines need two entries. Compiler errors are never
baselined: a file with errors has no plan.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from constlang.errors import Diagnostic, Severity, UsageError
from constlang.files import atomic_write_text
from constlang.source import SourceText

BASELINE_VERSION = 1
Key = tuple[str, str, str, str]  # file, code, message, line hash


class BaselineError(UsageError):
    """The baseline file cannot be read or written."""


def _file(d: Diagnostic, base: Path) -> str:
    p = Path(d.file).resolve()
    try:
        return p.relative_to(base.resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def line_hash(d: Diagnostic, sources: Mapping[str, SourceText]) -> str:
    src = sources.get(d.file)
    line = src.line_text(d.span.line).strip() if src is not None and d.span else ""
    return hashlib.sha256(line.encode("utf-8")).hexdigest()[:16]


def key(d: Diagnostic, sources: Mapping[str, SourceText], base: Path) -> Key:
    return (_file(d, base), d.code, d.message, line_hash(d, sources))


def baselinable(d: Diagnostic) -> bool:
    return not (d.severity is Severity.ERROR and d.code.startswith("E"))


def write_baseline(path: Path, diagnostics: Sequence[Diagnostic],
                   sources: Mapping[str, SourceText]) -> int:
    """Write the findings to `path` (stable order, one entry per distinct key); returns count."""
    counts = Counter(key(d, sources, path.parent) for d in diagnostics if baselinable(d))
    entries = [{"file": f, "code": c, "message": m, "line_hash": h, "count": n}
               for (f, c, m, h), n in sorted(counts.items())]
    doc = {"format_version": BASELINE_VERSION, "tool": "constlang lint", "findings": entries}
    try:
        atomic_write_text(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise BaselineError(f"cannot write the baseline {path}: {exc.strerror or exc}") from None
    return sum(counts.values())


def load_baseline(path: Path) -> Counter[Key]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format_version") != BASELINE_VERSION:
            raise BaselineError(f"{path}: unsupported baseline format_version "
                                f"{doc.get('format_version')!r}")
        return Counter({(e["file"], e["code"], e["message"], e["line_hash"]): int(e["count"])
                        for e in doc["findings"]})
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such baseline file (create it with "
                            "--write-baseline)") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError,
            RecursionError) as exc:  # a non-finite count is an OverflowError or ValueError
        raise BaselineError(f"{path}: not a constlang baseline: {exc}") from None


def new_findings(diagnostics: Sequence[Diagnostic], baseline: Counter[Key],
                 sources: Mapping[str, SourceText], base: Path) -> list[Diagnostic]:
    """The findings the baseline does not account for."""
    left = Counter(baseline)
    out = []
    for d in diagnostics:
        k = key(d, sources, base)
        if baselinable(d) and left[k] > 0:
            left[k] -= 1
        else:
            out.append(d)
    return out
