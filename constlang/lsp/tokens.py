"""Semantic tokens: declarations and references coloured by kind, settings, enum words and
template expressions, encoded as LSP's relative five-integer groups."""

from __future__ import annotations

import re

from lsprotocol import types as T

from constlang.lsp.analysis import Analysis
from constlang.lsp.positions import LineIndex
from constlang.semantics.resolve import STD_DIR
from constlang.syntax import ast

TOKEN_TYPES = ["variable", "interface", "struct", "function", "class", "namespace", "event",
               "property", "enumMember", "macro", "parameter"]
TOKEN_MODIFIERS = ["declaration", "defaultLibrary"]
LEGEND = T.SemanticTokensLegend(TOKEN_TYPES, TOKEN_MODIFIERS)
KIND_TYPE = {"principle": 0, "question": 1, "example": 2, "template": 3, "model": 4,
             "dataset": 5, "stage": 6, "check": 0}
PROPERTY, ENUM, MACRO, PARAMETER = 7, 8, 9, 10
_EXPR = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def semantic_tokens(a: Analysis, encoding: str) -> T.SemanticTokens:
    display = a.display
    if a.index is None or display is None or a.text != a.sources[display].text:
        return T.SemanticTokens(data=[])
    fi = a.index.files[display]
    raw: list[tuple[int, int, int, int]] = []  # start offset, end offset, type, modifiers
    for occ in fi.occurrences:
        mods = 1 if occ.role in ("definition", "override") else 0
        span = a.index.definitions.get(occ.key)
        path = a.source_path(span.file) if span else None
        if path is not None and path.is_relative_to(STD_DIR):
            mods |= 2
        raw.append((occ.span.start, occ.span.end, KIND_TYPE[occ.key[0]], mods))
    refs = {(o.span.start, o.span.end) for o in fi.occurrences}
    for s in fi.settings:
        if s.info is not None:
            raw.append((s.span.start, s.span.end, PROPERTY, 0))
        values = s.value.items if isinstance(s.value, ast.List) else (s.value,)
        for v in values:
            if isinstance(v, ast.Ref) and (v.span.start, v.span.end) not in refs:
                raw.append((v.span.start, v.span.end, ENUM, 0))
    for item in fi.items:
        if isinstance(item, ast.Template):
            params = {p.name for p in item.params}
            body = item.body.span
            for m in _EXPR.finditer(a.text, body.start, body.end):
                raw += _expression(m.start(), m.group(0), params)
    return T.SemanticTokens(data=_encode(raw, LineIndex(a.text, encoding), a.text))


def _expression(start: int, text: str, params: set[str]) -> list[tuple[int, int, int, int]]:
    """A `{{ ... }}` expression: its parameters as parameters, the rest as macro."""
    out = []
    pos = 0
    for m in re.finditer(r"[A-Za-z_]\w*", text):
        if m.group(0) in params and (m.start() == 0 or text[m.start() - 1] != "."):
            if m.start() > pos:
                out.append((start + pos, start + m.start(), MACRO, 0))
            out.append((start + m.start(), start + m.end(), PARAMETER, 0))
            pos = m.end()
    if pos < len(text):
        out.append((start + pos, start + len(text), MACRO, 0))
    return out


def _encode(raw: list[tuple[int, int, int, int]], lines: LineIndex, text: str) -> list[int]:
    data: list[int] = []
    prev_line = prev_char = 0
    last_end = -1
    for start, end, kind, mods in sorted(raw):
        if start < last_end or end <= start:
            continue  # overlapping tokens are not allowed; keep the first
        last_end = end
        while start < end:  # one token per line
            nl = text.find("\n", start, end)
            stop = end if nl < 0 else nl
            if stop > start:
                p = lines.position(start)
                length = lines.position(stop).character - p.character
                delta_line = p.line - prev_line
                delta_char = p.character - prev_char if delta_line == 0 else p.character
                data += [delta_line, delta_char, length, kind, mods]
                prev_line, prev_char = p.line, p.character
            start = stop + 1 if nl >= 0 else end
    return data
