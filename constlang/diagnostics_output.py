"""Diagnostics output: how `check` and `lint` print diagnostics — text with source snippets,
a summary line and a JSON document (lint's SARIF, GitHub and JUnit renderers build on the same
records)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from constlang.errors import Diagnostic, Severity
from constlang.served import redact_secrets
from constlang.source import SourceText

REPORT_FORMAT_VERSION = 2  # 2: check and lint share one shape (docs/errors.md, "JSON output")
Style = Callable[[str, str], str]  # (text, role) → styled text
MAX_SHOWN_PER_FILE = 200  # diagnostics of one file printed as text; the rest are counted
WINDOW = 160  # characters of a long source line shown around a diagnostic's column
KEY_MARGIN = 64  # characters beyond the window searched for a key to hide (longer than a prefix)
SEVERITY_WORDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


class RuleInfo(Protocol):
    """What a JSON record says about the lint rule behind a code."""

    @property
    def name(self) -> str: ...

    @property
    def category(self) -> str: ...


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


def snippet(d: Diagnostic, source: SourceText | None, style: Style = plain_style) -> list[str]:
    """The source line(s) of a diagnostic with a caret under its span."""
    if d.span is None or source is None or d.span.line > source.line_count:
        return []
    span = d.span
    number = str(span.line)
    pad = " " * len(number)
    text = source.line_text(span.line).replace("\t", " ")
    start = max(1, span.column)
    if len(text) > WINDOW:  # a long line: show a window around the column, not all of it
        left = max(0, min(start - 1 - WINDOW // 3, len(text) - WINDOW))
        margin = min(left, KEY_MARGIN)  # a key across the window's edge is hidden too
        shown = redact_secrets(text[left - margin:left + WINDOW + KEY_MARGIN])
        shown = shown[margin:margin + WINDOW]
        text = ("…" if left else "") + shown + ("…" if left + WINDOW < len(text) else "")
        start = start - left + (1 if left else 0)
    else:
        text = redact_secrets(text)  # an API key in the file is never printed (E118)
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


def fix_note(d: Diagnostic) -> str | None:
    """How to apply a diagnostic's fix, or None when it has none."""
    if d.fix is None:
        return None
    how = "--fix" if d.fix.safe else "--fix --unsafe-fixes"
    return f"{d.fix.message} ({'safe' if d.fix.safe else 'unsafe'}: {how})"


def render_text(diagnostics: Sequence[Diagnostic], sources: Mapping[str, SourceText],
                style: Style = plain_style, concise: bool = False) -> str:
    """Compiler-style output: headline, source snippet with caret, help and fix; concise
    output is the headlines alone, `[*]` marking the fixable ones."""
    out: list[str] = []
    per_file: dict[str, int] = {}
    for d in diagnostics:
        per_file[d.file] = per_file.get(d.file, 0) + 1
        if per_file[d.file] > MAX_SHOWN_PER_FILE:
            continue
        if concise:
            out.append(headline(d, style) + (" [*]" if d.fix else ""))
            continue
        out.append(headline(d, style))
        src = sources.get(d.span.file) if d.span else None
        lines = snippet(d, src, style)
        out.extend(lines)
        pad = " " * (len(str(d.span.line)) if d.span and lines else 1)
        if d.help:
            out.append(f"{pad} {style('= help:', 'help')} {d.help}")
        for message, where in d.related:
            out.append(f"{pad} {style('= note:', 'help')} {message}: "
                       f"{where.file}:{where.line}:{where.column}")
        note = fix_note(d)
        if note:
            out.append(f"{pad} {style('= fix:', 'help')} {note}")
        out.append("")
    for file, n in per_file.items():
        if n > MAX_SHOWN_PER_FILE:
            out.append(f"{file}: {n - MAX_SHOWN_PER_FILE:,} more diagnostics not shown (the "
                       f"first {MAX_SHOWN_PER_FILE} are above; --format json lists them all)")
    return "\n".join(out).rstrip("\n") + ("\n" if out else "")


def counts(diagnostics: Sequence[Diagnostic]) -> dict[str, int]:
    """Diagnostics per severity, every severity present: {"error": n, "warning": n, "info": n}."""
    return {s.value: sum(d.severity is s for d in diagnostics) for s in Severity}


def summary_line(diagnostics: Sequence[Diagnostic], files: int) -> str:
    """`All checks passed (3 files).` or `Found 2 errors and 1 warning in 1 file.`: only the
    severities that occur are named, errors first, notes last."""
    noun = "file" if files == 1 else "files"
    if not diagnostics:
        return f"All checks passed ({files} {noun})."
    found = [f"{n} {SEVERITY_WORDS[s]}{'s' * (n != 1)}" for s in Severity
             if (n := sum(d.severity is s for d in diagnostics))]
    listed = ", ".join(found[:-1]) + " and " + found[-1] if len(found) > 1 else found[0]
    return f"Found {listed} in {files} {noun}."


def fixable_line(diagnostics: Sequence[Diagnostic]) -> str | None:
    """`[*] 2 fixable with --fix.` when some diagnostics carry fixes, else None."""
    safe = sum(1 for d in diagnostics if d.fix and d.fix.safe)
    unsafe = sum(1 for d in diagnostics if d.fix and not d.fix.safe)
    if safe:
        return f"[*] {safe} fixable with --fix" + (
            f" ({unsafe} more with --fix --unsafe-fixes)." if unsafe else ".")
    if unsafe:
        return f"[*] {unsafe} fixable with --fix --unsafe-fixes."
    return None


def render_report(diagnostics: Sequence[Diagnostic], sources: Mapping[str, SourceText],
                  files: int, style: Style = plain_style, concise: bool = False) -> str:
    """What `check` and `lint` print: the diagnostics, a blank line, then the summary."""
    body = render_text(diagnostics, sources, style, concise)
    if body and not concise:
        body += "\n"
    tail = [summary_line(diagnostics, files), fixable_line(diagnostics)]
    return body + "".join(line + "\n" for line in tail if line)


def record(d: Diagnostic, rules: Mapping[str, RuleInfo]) -> dict[str, object]:
    """One diagnostic as JSON: code, severity, message, position, help, fix, rule, category."""
    item = d.to_dict()
    rule = rules.get(d.code)
    item["rule"] = rule.name if rule else None
    item["category"] = rule.category if rule else "compiler"
    return item


def render_json(diagnostics: Sequence[Diagnostic], files: int, tool: str,
                rules: Mapping[str, RuleInfo] | None = None) -> str:
    """The JSON document of `check --format json` and `lint --format json` (one schema)."""
    tally = counts(diagnostics)
    doc = {"format_version": REPORT_FORMAT_VERSION, "tool": tool, "files": files,
           "valid": tally["error"] == 0, "counts": tally,
           "diagnostics": [record(d, rules or {}) for d in diagnostics]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
