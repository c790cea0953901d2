"""Navigation: go to definition, find references and rename across imports, and the outline
(document symbols) and workspace symbols."""

from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types as T
from pygls.exceptions import JsonRpcInvalidParams

from constlang.lsp.analysis import Analysis, Store
from constlang.lsp.index import Key, Occurrence
from constlang.lsp.positions import LineIndex, uri_of
from constlang.semantics.resolve import STD_DIR
from constlang.span import Span
from constlang.syntax import ast

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEYWORDS = {"constlang", "constitution", "import", "principle", "check", "question", "example",
            "template", "model", "dataset", "stage", "override", "drop", "true", "false"}
SYMBOL_KIND = {"principle": T.SymbolKind.Constant, "question": T.SymbolKind.Interface,
               "example": T.SymbolKind.Struct, "template": T.SymbolKind.Function,
               "model": T.SymbolKind.Class, "dataset": T.SymbolKind.File,
               "stage": T.SymbolKind.Event, "check": T.SymbolKind.Boolean}


def location(a: Analysis, span: Span, encoding: str) -> T.Location | None:
    path = a.source_path(span.file)
    lines = a.line_index(span.file, encoding)
    if path is None or lines is None:
        return None
    return T.Location(uri_of(path), lines.span_range(span))


def definition(a: Analysis, display: str, offset: int, encoding: str) -> T.Location | None:
    occ = a.index.occurrence_at(display, offset) if a.index else None
    if occ is None or a.index is None:
        return None
    span = a.index.definitions.get(occ.key)
    return location(a, span, encoding) if span else None


def _defining_file(a: Analysis, key: Key) -> Path | None:
    span = a.index.definitions.get(key) if a.index else None
    return a.source_path(span.file) if span else None


def references(store: Store, roots: list[Path], a: Analysis, display: str, offset: int,
               encoding: str, include_declaration: bool = True) -> list[T.Location]:
    """Every use of the declaration under the cursor: in this file's world and in every other
    workspace file whose world holds the file that declares it."""
    occ = a.index.occurrence_at(display, offset) if a.index else None
    if occ is None:
        return []
    return [loc for loc, o in _all_occurrences(store, roots, a, occ.key, encoding)
            if include_declaration or o.role not in ("definition",)]


def _all_occurrences(store: Store, roots: list[Path], a: Analysis, key: Key, encoding: str
                     ) -> list[tuple[T.Location, Occurrence]]:
    home = _defining_file(a, key)
    seen: set[tuple[str, int, int, int, int]] = set()
    out: list[tuple[T.Location, Occurrence]] = []
    worlds = [a]
    if home is not None:
        for path in store.workspace_files(roots):
            if path == a.path:
                continue
            other = store.of_file(path)
            world = other.result.world if other else None
            if other and world and any(m.path == home for m in world.modules.values()):
                worlds.append(other)
    for w in worlds:
        if w.index is None:
            continue
        for occ in w.index.occurrences_of(key):
            loc = location(w, occ.span, encoding)
            if loc is None:
                continue
            r = loc.range
            mark = (loc.uri, r.start.line, r.start.character, r.end.line, r.end.character)
            if mark not in seen:
                seen.add(mark)
                out.append((loc, occ))
    return out


def rename(store: Store, roots: list[Path], a: Analysis, display: str, offset: int,
           new_name: str, encoding: str) -> T.WorkspaceEdit | None:
    """Rename a declaration everywhere; refuses a name that is not a name, or is taken."""
    occ = a.index.occurrence_at(display, offset) if a.index else None
    if occ is None:
        return None
    kind, old = occ.key
    if not NAME_RE.fullmatch(new_name) or new_name in KEYWORDS:
        raise JsonRpcInvalidParams(f"`{new_name}` is not a valid name: use letters, digits and "
                                   "underscores, starting with a letter or `_`")
    home = _defining_file(a, occ.key)
    if home is not None and home.is_relative_to(STD_DIR):
        raise JsonRpcInvalidParams(f"{kind} `{old}` comes from the std library, which cannot be "
                                   "edited; declare your own instead")
    found = _all_occurrences(store, roots, a, occ.key, encoding)
    for w in [a] + [store.of_file(p) for p in {Path(_path(loc.uri)) for loc, _ in found}]:
        world = w.result.world if w else None
        if world and new_name in world.scope.get(kind, {}):
            raise JsonRpcInvalidParams(f"cannot rename {kind} `{old}` to `{new_name}`: a {kind} "
                                       f"called `{new_name}` already exists")
    changes: dict[str, list[T.TextEdit]] = {}
    for loc, o in found:
        changes.setdefault(loc.uri, []).append(T.TextEdit(loc.range, new_name))
        if kind == "stage" and o.role == "definition":
            extra = _keep_stage_kind(store, loc.uri, o, old, encoding)
            if extra is not None:
                changes[loc.uri].append(extra)
    return T.WorkspaceEdit(changes=changes)


def _path(uri: str) -> str:
    from constlang.lsp.positions import path_of

    return str(path_of(uri))


def _keep_stage_kind(store: Store, uri: str, occ: Occurrence, old: str, encoding: str
                     ) -> T.TextEdit | None:
    """A stage named after its kind keeps that kind: `kind = <old name>` is added."""
    from constlang.kinds import SETTINGS_BY_KIND
    from constlang.lsp.positions import path_of

    path = path_of(uri)
    a = store.of_file(path) if path else None
    if a is None or a.index is None or old not in SETTINGS_BY_KIND:
        return None
    fi = a.index.files.get(occ.span.file)
    source = a.sources.get(occ.span.file)
    if fi is None or source is None:
        return None
    for item in fi.items:
        if isinstance(item, ast.Declaration) and item.name_span == occ.span:
            if item.field("kind") is not None:
                return None
            brace = source.text.find("{", occ.span.end)
            if brace < 0:
                return None
            pos = LineIndex(source.text, encoding).position(brace + 1)
            return T.TextEdit(T.Range(pos, pos), f"\n  kind = {old}")
    return None


def document_symbols(a: Analysis, encoding: str) -> list[T.DocumentSymbol]:
    display = a.display
    if a.index is None or display is None:
        return []
    lines = LineIndex(a.text, encoding)
    out = []
    for item in a.index.files[display].items:
        if isinstance(item, (ast.Declaration, ast.Template)):
            children = []
            if isinstance(item, ast.Declaration):
                children = [T.DocumentSymbol(f.name, T.SymbolKind.Property,
                                             lines.span_range(f.span),
                                             lines.span_range(f.name_span))
                            for f in item.fields]
            detail = ("override " if item.override else "") + item.kind
            out.append(T.DocumentSymbol(item.name, SYMBOL_KIND[item.kind],
                                        lines.span_range(item.span),
                                        lines.span_range(item.name_span), detail=detail,
                                        children=children or None))
        elif isinstance(item, ast.Constitution):
            out.append(T.DocumentSymbol(item.name.value, T.SymbolKind.Namespace,
                                        lines.span_range(item.span),
                                        lines.span_range(item.name.span),
                                        detail="constitution"))
    return out


def workspace_symbols(store: Store, roots: list[Path], query: str, encoding: str
                      ) -> list[T.WorkspaceSymbol]:
    q = query.lower()
    out: list[T.WorkspaceSymbol] = []
    seen: set[tuple[str, int]] = set()
    for path in store.workspace_files(roots):
        a = store.of_file(path)
        if a is None or a.index is None or a.display is None:
            continue
        for item in a.index.files[a.display].items:
            if isinstance(item, (ast.Declaration, ast.Template)) and not item.override \
                    and q in item.name.lower():
                loc = location(a, item.name_span, encoding)
                if loc is None or (loc.uri, item.name_span.start) in seen:
                    continue
                seen.add((loc.uri, item.name_span.start))
                out.append(T.WorkspaceSymbol(name=item.name, kind=SYMBOL_KIND[item.kind],
                                             location=loc, container_name=item.kind))
    return out
