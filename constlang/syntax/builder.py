"""Build: Lark parse tree → AST of frozen dataclasses with spans; decodes string literals."""

from __future__ import annotations

import os
import re
from typing import cast

from lark import Token, Tree

from constlang.errors import Diagnostic, Severity
from constlang.gc_pause import gc_paused
from constlang.source import SourceText
from constlang.span import Span
from constlang.syntax import ast

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "0": "\0"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
MAX_LIST_DEPTH = 64
MAX_ESCAPE_ERRORS = 20  # reported per string; a string of a million bad escapes is one problem


class Builder:
    def __init__(self, source: SourceText):
        self.source = source
        self.diagnostics: list[Diagnostic] = []

    def span(self, node: Tree | Token) -> Span:
        """Where a node is; Lark has already counted its lines and columns (the same way as
        SourceText.position: 1-based, lines end at "\\n"), so no lookup is needed."""
        at = node if isinstance(node, Token) else node.meta
        line, column, start = at.line, at.column, at.start_pos
        end_line, end_column, end = at.end_line, at.end_column, at.end_pos
        if (line is None or column is None or start is None or end_line is None
                or end_column is None or end is None):
            start = start or 0
            return self.source.span(start, end or start)
        return Span(self.source.path, line, column, end_line, end_column, start, end)

    def module(self, tree: Tree) -> ast.Module:
        version = None
        items: list[ast.Item] = []
        for child in tree.children:
            if not isinstance(child, Tree):
                continue
            kind = child.data
            if kind == "version_header":
                tok = child.children[0]
                version = ast.VersionHeader(int(str(tok)), self.span(child))
            elif kind == "constitution":
                name, body = child.children
                items.append(ast.Constitution(self.string(name), self.body(body), self.span(child)))
            elif kind == "import_decl":
                items.append(ast.Import(self.string(child.children[0]), self.span(child)))
            elif kind == "declaration":
                override, decl_kind, name, body = child.children
                items.append(ast.Declaration(
                    str(decl_kind.children[0]), str(name), self.span(name), self.body(body),
                    override is not None, self.span(child)))
            elif kind == "template":
                override, _kw, name, params, body = child.children
                plist = tuple(ast.Param(str(p), self.span(p)) for p in
                              (params.children if params is not None else ()))
                items.append(ast.Template(str(name), self.span(name), plist, self.string(body),
                                          override is not None, self.span(child)))
            elif kind == "drop":
                what, name = child.children
                word = str(what.children[0]) if isinstance(what, Tree) else str(what)
                items.append(ast.Drop(word, str(name), self.span(name), self.span(child)))
        return ast.Module(self.source.path, version, tuple(items))

    def body(self, tree: Tree) -> tuple[ast.Field, ...]:
        fields = []
        for f in tree.children:
            name, value = f.children
            fields.append(ast.Field(str(name), self.span(name), self.value(value), self.span(f)))
        return tuple(fields)

    def value(self, node: Tree | Token, depth: int = 0) -> ast.Value:
        if isinstance(node, Tree):
            kind = node.data
            if kind in ("string", "long_string"):
                return self.string(node)
            if kind == "list":
                if depth >= MAX_LIST_DEPTH:  # deeper lists would exhaust Python's stack
                    self.error("E001", f"lists are nested more than {MAX_LIST_DEPTH} deep",
                               self.span(node), "flatten the nested lists")
                    return ast.List((), self.span(node))
                items = tuple(self.value(c, depth + 1) for c in node.children if c is not None)
                return ast.List(items, self.span(node))
            tok = cast(Token, node.children[0])
            if kind == "number":
                return self.number(tok)
            if kind == "true":
                return ast.Bool(True, self.span(tok))
            if kind == "false":
                return ast.Bool(False, self.span(tok))
            if kind == "reference":
                return ast.Ref(str(tok), self.span(tok))
        raise AssertionError(f"unexpected node {node!r}")  # the grammar admits nothing else

    def number(self, tok: Token) -> ast.Number:
        text = str(tok)
        value: int | float
        if re.fullmatch(r"-?[0-9]+", text):
            try:
                value = int(text)
            except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
                self.error("E003", "number is too large", self.span(tok))
                value = 0
        else:
            value = float(text)
            if value in (float("inf"), float("-inf")):
                self.error("E003", "number is too large", self.span(tok))
                value = 0.0
        return ast.Number(value, self.span(tok), text)

    def string(self, node: Tree | Token) -> ast.Str:
        tok = cast(Token, node.children[0] if isinstance(node, Tree) else node)
        text = str(tok)
        span = self.span(tok)
        if tok.type == "LONG_STRING":
            return self._long_string(text[3:-3], span)
        return ast.Str(self._unescape(text[1:-1], tok), span, False, span.line, span.column)

    def _long_string(self, raw: str, span: Span) -> ast.Str:
        first_line = span.line
        if raw.startswith("\n"):
            raw = raw[1:]
            first_line += 1
        last = raw.rfind("\n")
        if last != -1 and not raw[last + 1:].strip():
            # closing quotes on a line of their own: that line, and the break before it, are
            # layout, not text (as in Swift's multi-line strings)
            raw = raw[:last]
        dedented = dedent(raw)
        # the margin taken off: where the first line with text starts, before and after
        indent = 0
        before, after = _TEXT_RE.search(raw), _TEXT_RE.search(dedented)
        if before is not None and after is not None:
            indent = (before.start() - raw.rfind("\n", 0, before.start())) - \
                (after.start() - dedented.rfind("\n", 0, after.start()))
        return ast.Str(dedented, span, True, first_line, indent)

    def _unescape(self, body: str, tok: Token) -> str:
        if "\\" not in body:
            return body
        errors = 0

        def bad(offset: int, width: int, message: str, help: str) -> None:
            nonlocal errors
            errors += 1
            if errors > MAX_ESCAPE_ERRORS:
                raise _TooManyEscapeErrors(offset)
            start = (tok.start_pos or 0) + 1 + offset
            self.error("E003", message, self.source.span(start, start + width), help)

        def repl(m: re.Match[str]) -> str:
            esc = m.group(1)
            if esc[0] == "u" and len(esc) == 5:
                code = int(esc[1:], 16)
                if 0xD800 <= code <= 0xDFFF:  # half of a UTF-16 pair: no text can hold it
                    bad(m.start(), 6, f"`\\{esc}` is a lone surrogate, not a character",
                        "write the character itself; constlang files are UTF-8")
                    return "\ufffd"
                return chr(code)
            if esc in _ESCAPES:
                return _ESCAPES[esc]
            bad(m.start(), 2, f"unknown escape sequence `\\{esc}`",
                'use `\\\\` for a backslash, or a `"""` string, which takes text literally')
            return m.group(0)

        try:
            return _ESCAPE_RE.sub(repl, body)
        except _TooManyEscapeErrors as stop:  # one string, thousands of errors: say so once
            start = (tok.start_pos or 0) + 1 + stop.offset
            self.error("E003", f"more than {MAX_ESCAPE_ERRORS} bad escape sequences in one "
                       "string; the rest are not listed", self.source.span(start, start + 2),
                       'use `\\\\` for a backslash, or a `"""` string, which takes text '
                       "literally")
            return body

    def error(self, code: str, message: str, span: Span, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, Severity.ERROR, message, span, help))


_BLANK_LINE_RE = re.compile(r"^[ \t]+$", re.MULTILINE)
_INDENT_RE = re.compile(r"^([ \t]*)[^ \t\n]", re.MULTILINE)
_TEXT_RE = re.compile(r"\S")


def dedent(text: str) -> str:
    """textwrap.dedent's result (blank lines emptied, the margin of spaces and tabs common to
    the other lines taken off) without listing every line's indent: a long string of many
    lines costs its own size, not several lists of its lines."""
    if _BLANK_LINE_RE.search(text):
        text = _BLANK_LINE_RE.sub("", text)
    margin: str | None = None
    for m in _INDENT_RE.finditer(text):
        indent = m.group(1)
        if margin is None or margin.startswith(indent):
            margin = indent
        elif not indent.startswith(margin):
            margin = os.path.commonprefix([margin, indent])
        if not margin:
            return text
    return re.sub("(?m)^" + margin, "", text) if margin else text


class _TooManyEscapeErrors(Exception):
    """One string holds too many bad escapes: stop unescaping it. An internal signal, not a
    ConstlangError: the builder catches it and reports one diagnostic."""

    def __init__(self, offset: int):
        self.offset = offset


def build(source: SourceText, tree: Tree) -> tuple[ast.Module, list[Diagnostic]]:
    """The AST of a parse tree, with the diagnostics found while building it."""
    builder = Builder(source)
    with gc_paused():
        return builder.module(tree), builder.diagnostics
