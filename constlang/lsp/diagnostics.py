"""Diagnostics: constlang's compiler and lint findings as LSP diagnostics, with rule-doc
links, related locations and tags."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from lsprotocol import types as T
from pygls.protocol import default_converter

from constlang.errors import Diagnostic, Severity
from constlang.lsp.analysis import Analysis
from constlang.lsp.positions import LineIndex, uri_of
from constlang.span import Span
from constlang.syntax import ast

SEVERITY = {Severity.ERROR: T.DiagnosticSeverity.Error,
            Severity.WARNING: T.DiagnosticSeverity.Warning,
            Severity.INFO: T.DiagnosticSeverity.Information}
# findings about something nothing uses: editors grey the code out
UNNECESSARY = {"CL101", "CL102", "CL103", "CL104", "CL105", "CL106", "CL107", "CL108",
               "CL901"}
DEPRECATED: set[str] = set()  # no construct of language version 1 is deprecated yet
DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"
_NAMED = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


@functools.cache
def docs_link(code: str, base: str | None) -> str | None:
    """The address of a code's documentation: a lint rule's section of lint.md, a compiler
    code's section of errors.md; under `base` (a URL), else in the source checkout's docs/."""
    from constlang.lint.registry import BY_CODE

    rule = BY_CODE.get(code)
    if rule is not None:
        page, anchor = "lint.md", f"{code.lower()}-{rule.name}"
    elif re.fullmatch(r"[EW][0-9]{3}", code):
        page, anchor = "errors.md", _errors_anchor(code)
    else:
        return None
    if base:
        return f"{base.rstrip('/')}/{page}#{anchor}"
    local = DOCS_DIR / page
    return f"{local.as_uri()}#{anchor}" if local.is_file() else None


@functools.cache
def _errors_anchor(code: str) -> str:
    """GitHub's anchor of the `## E101 unknown name` heading of docs/errors.md."""
    try:
        text = (DOCS_DIR / "errors.md").read_text(encoding="utf-8")
    except OSError:
        return code.lower()
    m = re.search(rf"(?m)^## {code} (.+)$", text)
    if m is None:
        return code.lower()
    title = re.sub(r"[^a-z0-9 -]", "", f"{code} {m.group(1)}".lower())
    return title.replace(" ", "-")


Json = dict[str, Any]
_CONVERTER = default_converter()


def to_lsp(analysis: Analysis, encoding: str, docs_base: str | None = None) -> list[Json]:
    """The diagnostics to show in the analysed file, in their JSON form (built directly: on a
    file with thousands of findings, typed objects and their serialisation cost more than the
    analysis). Problems found in an imported file are shown on the import that brings it in,
    pointing at where they are."""
    display = analysis.display
    lines = LineIndex(analysis.text, encoding)
    out = []
    for d in analysis.diagnostics:
        if d.span is None or display is None or d.span.file == display:
            rng = lines.span_json(d.span) if d.span else _ZERO
            out.append(_one(d, rng, d.message, analysis, encoding, docs_base))
        elif d.severity is Severity.ERROR:
            imp = _import_for(analysis, d.span.file)
            if imp is None:
                continue
            lsp = _one(d, lines.span_json(imp.path.span),
                       f"in imported file {d.span.file}: {d.message}", analysis, encoding,
                       docs_base)
            where = _location(analysis, d.span, encoding)
            if where is not None:
                lsp["relatedInformation"] = [{"location": where, "message": d.message},
                                             *lsp.get("relatedInformation", [])]
            out.append(lsp)
    return out


def own_diagnostic(d: Diagnostic, analysis: Analysis, lines: LineIndex, encoding: str,
                   docs_base: str | None = None) -> T.Diagnostic:
    """The LSP form of a diagnostic located in the analysed file itself (for code actions)."""
    assert d.span is not None
    return _CONVERTER.structure(
        _one(d, lines.span_json(d.span), d.message, analysis, encoding, docs_base), T.Diagnostic)


_ZERO: Json = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}


def _one(d: Diagnostic, rng: Json, message: str, analysis: Analysis, encoding: str,
         docs_base: str | None) -> Json:
    text = message + (f"\n{d.help}" if d.help else "")
    if d.fix is not None:
        text += f"\nfix{'' if d.fix.safe else ' (unsafe)'}: {d.fix.message}"
    out: Json = {"range": rng, "message": text, "severity": SEVERITY[d.severity].value,
                 "code": d.code, "source": "constlang", "data": {"code": d.code}}
    href = docs_link(d.code, docs_base)
    if href:
        out["codeDescription"] = {"href": href}
    tags = ([T.DiagnosticTag.Unnecessary.value] if d.code in UNNECESSARY else []) + (
        [T.DiagnosticTag.Deprecated.value] if d.code in DEPRECATED else [])
    if tags:
        out["tags"] = tags
    related = [{"location": loc, "message": note}
               for loc, note in _related(d, analysis, encoding)]
    if related:
        out["relatedInformation"] = related
    return out


def _location(analysis: Analysis, span: Span, encoding: str) -> Json | None:
    path = analysis.source_path(span.file)
    lines = analysis.line_index(span.file, encoding)
    if path is None or lines is None:
        return None
    return {"uri": uri_of(path), "range": lines.span_json(span)}


def _import_for(analysis: Analysis, display: str) -> ast.Import | None:
    """The entry's import that loads the file `display` (directly, else its first import)."""
    world = analysis.result.world
    if world is None or world.entry is None:
        return None
    imports = world.entry.module.of(ast.Import)
    target = world.modules.get(display)
    for imp in imports:
        base = world.entry.path.parent if world.entry.path else world.root
        if target is not None and target.path == (base / imp.path.value).resolve():
            return imp
    return imports[0] if imports else None


def _related(d: Diagnostic, analysis: Analysis, encoding: str) -> list[tuple[Json, str]]:
    """Other places a finding is about: its own related places, the first declaration of a
    duplicate, and each declaration the message names in backticks."""
    index = analysis.index
    if index is None or d.span is None:
        return []
    out: list[tuple[Json, str]] = []
    for message, span in d.related:
        loc = _location(analysis, span, encoding)
        if loc:
            out.append((loc, message))
    here = (d.span.file, d.span.start)
    if d.code == "E102":
        m = re.match(r"(\w+) `(\w+)`", d.message)
        fi = index.files.get(d.span.file)
        if m and fi:
            for occ in fi.occurrences:
                if occ.key == (m.group(1), m.group(2)) and occ.span.start < d.span.start \
                        and occ.role == "definition":
                    loc = _location(analysis, occ.span, encoding)
                    if loc:
                        out.append((loc, "first declared here"))
                    break
    for name in dict.fromkeys(_NAMED.findall(d.message)):
        for kind, span in index.declared(name):
            if (span.file, span.start) != here:
                loc = _location(analysis, span, encoding)
                if loc and all(loc != o[0] for o in out):
                    out.append((loc, f"{kind} `{name}` is declared here"))
    return out[:5]
