"""Report: render diagnostics as compiler-style text (with source snippets) or JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from constlang.errors import Diagnostic, Severity
from constlang.source import SourceFile

REPORT_FORMAT_VERSION = 1
Style = Callable[[str, str], str]  # (text, role) → styled text


def plain_style(text: str, role: str) -> str:
    return text


def ansi_style(text: str, role: str) -> str:
    codes = {"error": "1;31", "warning": "1;33", "info": "1;36", "gutter": "34", "caret": "1;31",
             "help": "1;32", "location": "1"}
    code = codes.get(role)
    return f"\x1b[{code}m{text}\x1b[0m" if code else text


def headline(d: Diagnostic, style: Style = plain_style) -> str:
    where = (f"{d.span.file}:{d.span.line}:{d.span.column}" if d.span else "<input>")
    sev = d.severity.value
    return f"{style(where, 'location')}: {d.code} {style(sev, sev)}: {d.message}"


def snippet(d: Diagnostic, source: SourceFile | None, style: Style = plain_style) -> list[str]:
    """The source line(s) of a diagnostic with a caret under its span."""
    if d.span is None or source is None or d.span.line > source.line_count:
        return []
    span = d.span
    number = str(span.line)
    pad = " " * len(number)
    text = source.line_text(span.line).replace("\t", " ")
    if len(text) > 200:
        text = text[:200] + "…"
    start = max(1, span.column)
    if span.end_line == span.line:
        width = max(1, span.end_column - span.column)
    else:
        width = max(1, len(text) - start + 1)
    width = min(width, max(1, len(text) - start + 1))
    caret = " " * (start - 1) + "^" * width
    return [
        f"{style(pad + ' |', 'gutter')}",
        f"{style(number + ' |', 'gutter')} {text}",
        f"{style(pad + ' |', 'gutter')} {style(caret, 'caret')}",
    ]


def render_text(diagnostics: Sequence[Diagnostic], sources: Mapping[str, SourceFile],
                style: Style = plain_style, concise: bool = False) -> str:
    """Full compiler-style output: headline, source snippet with caret, help."""
    out: list[str] = []
    for d in diagnostics:
        out.append(headline(d, style))
        if concise:
            continue
        src = sources.get(d.span.file) if d.span else None
        lines = snippet(d, src, style)
        out.extend(lines)
        if d.help:
            pad = " " * (len(str(d.span.line)) if d.span and lines else 1)
            out.append(f"{pad} {style('= help:', 'help')} {d.help}")
        out.append("")
    return "\n".join(out).rstrip("\n") + ("\n" if out else "")


def summary_line(diagnostics: Sequence[Diagnostic], files: int) -> str:
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = sum(d.severity is Severity.WARNING for d in diagnostics)
    noun = "file" if files == 1 else "files"
    if not errors and not warnings:
        return f"All checks passed ({files} {noun})."
    return (f"Found {errors} error{'s' * (errors != 1)} and {warnings} "
            f"warning{'s' * (warnings != 1)} in {files} {noun}.")


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = sum(d.severity is Severity.WARNING for d in diagnostics)
    doc = {"format_version": REPORT_FORMAT_VERSION, "valid": errors == 0, "error_count": errors,
           "warning_count": warnings, "diagnostics": [d.to_dict() for d in diagnostics]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
