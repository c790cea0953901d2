"""Format: the formatter stage, printing a parsed .const file back in its one canonical layout."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import TypeVar

from lark import Token

from constlang.errors import Diagnostic, UserError
from constlang.source import SourceText, normalize_text
from constlang.syntax import ast
from constlang.syntax.builder import build
from constlang.syntax.parser import parse

INDENT = 2  # spaces per nesting level
MAX_WIDTH = 100  # a list or parameter list longer than this is split one item per line
_TRIVIA = " \t\f\n\r\u00a0\ufeff"  # what the grammar's WS and NEWLINE terminals skip

_T = TypeVar("_T", bound=ast.Param | ast.Value)


class FormatError(UserError):
    """The text does not parse, so it has no canonical form; `diagnostics` says why."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        first = diagnostics[0] if diagnostics else None
        where = f"{first.span.line}:{first.span.column}: " if first and first.span else ""
        super().__init__(where + (first.message if first else "the file does not parse"))


def format_source(text: str, path: str = "<string>") -> str:
    """The canonical text of a .const file; raises FormatError when it does not parse.

    The result parses to the same AST as the input (spans aside), keeps every comment once
    and in order, and is its own canonical form: format_source(result) == result.
    """
    text = normalize_text(text)
    source = SourceText(path, text)
    tree, comments, diagnostics = parse(source)
    if tree is None:
        raise FormatError(diagnostics)
    module, problems = build(source, tree)
    # A syntax error found while building (lists nested too deep) leaves out part of the text;
    # other problems (an unknown escape, a huge number) are the checker's, and text is kept.
    syntax_errors = [d for d in problems if d.code == "E001"]
    if syntax_errors:
        raise FormatError(syntax_errors)
    printer = _Printer(text, comments)
    printer.module(module)
    return printer.result()


class _Printer:
    """Prints AST nodes as lines of text, placing each source comment before the next token.

    Tokens are printed in source order, so every comment is printed exactly once: before a
    token, the comments that precede it in the source are flushed. A comment with code before
    it on its source line stays at the end of the output line of the last token printed; any
    other comment gets a line of its own.
    """

    def __init__(self, text: str, comments: list[Token]):
        self.text = text
        unique = {c.start_pos or 0: str(c) for c in comments}
        self.comments = sorted((start, start + len(body), body.rstrip())
                               for start, body in unique.items())
        self.starts = [c[0] for c in self.comments]
        self.pending = 0  # index of the first comment not yet printed
        self.lines: list[str] = []
        self.open = False  # tokens may still be added to lines[-1]
        self.empty = True  # lines[-1] holds only its indentation
        self.fresh = True  # nothing printed yet in this block: no blank line may come first
        self.cont = INDENT  # indentation of a line broken inside a construct by a comment
        self.last_end = 0  # source offset just after the last token or comment printed
        self.last_line = -1  # output line of the last token printed, -1 after a comment
        self.trailing: dict[int, str] = {}  # output line -> the comment at its end

    # -- the layout of each construct ---------------------------------------------------------

    def module(self, module: ast.Module) -> None:
        previous: object = None
        if module.version is not None:
            span = module.version.span
            self.line(span.start, 0)
            after = self.keyword("constlang", span.start)
            start = self._skip(after)
            self.word(self.text[start:span.end], start, span.end)
            previous = module.version
        for item in module.items:
            # Imports and drops may stand in tight groups; everything else is set apart.
            grouped = isinstance(item, (ast.Import, ast.Drop)) and type(item) is type(previous)
            self.line(item.span.start, 0, force_blank=previous is not None and not grouped)
            self.item(item)
            previous = item
        self._comments_before(len(self.text) + 1, 0, blanks=True)

    def item(self, item: ast.Item) -> None:
        pos = item.span.start
        if isinstance(item, ast.Import):
            self.keyword("import", pos)
            self.value(item.path)
        elif isinstance(item, ast.Drop):
            self.keyword(item.kind, self.keyword("drop", pos))
            self.word(item.name, item.name_span.start, item.name_span.end)
        elif isinstance(item, ast.Constitution):
            self.keyword("constitution", pos)
            self.value(item.name)
            self.body(item.fields, item.name.span.end, item.span.end - 1)
        elif isinstance(item, ast.Declaration):
            if item.override:
                pos = self.keyword("override", pos)
            self.keyword(item.kind, pos)
            self.word(item.name, item.name_span.start, item.name_span.end)
            self.body(item.fields, item.name_span.end, item.span.end - 1)
        else:
            self.template(item)

    def template(self, item: ast.Template) -> None:
        pos = item.span.start
        if item.override:
            pos = self.keyword("override", pos)
        self.keyword("template", pos)
        self.word(item.name, item.name_span.start, item.name_span.end)
        lpar = self._at(item.name_span.end, "(")
        self.word("(", lpar, lpar + 1, sep="")
        rpar = self._skip(item.params[-1].span.end if item.params else lpar + 1)
        if self.text[rpar] == ",":
            rpar = self._skip(rpar + 1)
        inline = "(" + ", ".join(p.name for p in item.params) + ")"

        def param(p: ast.Param, sep: str, _extra: int) -> None:
            self.word(p.name, p.span.start, p.span.end, sep)

        self.sequence(item.params, lpar, rpar, inline, ")", 0, param)
        self.value(item.body)

    def body(self, fields: Sequence[ast.Field], after: int, rbrace: int) -> None:
        """`{`, one field per line with `=` aligned, `}`; `{}` when empty and comment-free."""
        lbrace = self._at(after, "{")
        self.word("{", lbrace, lbrace + 1)
        if not fields and not self._has_comment(lbrace, rbrace):
            self.word("}", rbrace, rbrace + 1, sep="")
            return
        base = _indent(self.lines[-1])  # of the line the bracket opens
        self.fresh = True
        width = max((len(f.name) for f in fields), default=0)
        for f in fields:
            self.line(f.span.start, base + INDENT)
            self.word(f.name, f.name_span.start, f.name_span.end)
            equals = self._at(f.name_span.end, "=")
            self.word("=", equals, equals + 1, sep=" " * (width - len(f.name) + 1))
            self.value(f.value)
        self.line(rbrace, base, comment_indent=base + INDENT, closing=True)
        self.word("}", rbrace, rbrace + 1)

    def value(self, value: ast.Value, sep: str = " ", extra: int = 0) -> None:
        """A value as written; `extra` is the width of what must follow it on its line."""
        start, end = value.span.start, value.span.end
        if isinstance(value, ast.List):
            self.word("[", start, start + 1, sep)
            self.sequence(value.items, start, end - 1, self._inline(value), "]", extra,
                          self.value)
        else:
            self.word(self.text[start:end], start, end, sep)

    def sequence(self, items: Sequence[_T], open_pos: int, close_pos: int, inline: str | None,
                 close: str, extra: int, render: Callable[[_T, str, int], None]) -> None:
        """The items after an opening bracket: on its line if they fit, else one a line."""
        column = len(self.lines[-1]) - 1  # where the opening bracket stands
        if (inline is not None and not self._has_comment(open_pos, close_pos)
                and column + len(inline) + extra <= MAX_WIDTH):
            for i, item in enumerate(items):
                render(item, ", " if i else "", 0)
            self.word(close, close_pos, close_pos + 1, sep="")
            return
        base = _indent(self.lines[-1])  # of the line the bracket opens
        for item in items:
            self.line(item.span.start, base + INDENT, blanks=False)
            render(item, "", 1)
            self._put(",")  # the source's comma, if any, carries no comment of its own
        self.line(close_pos, base, comment_indent=base + INDENT, blanks=False)
        self.word(close, close_pos, close_pos + 1)

    def _inline(self, value: ast.Value) -> str | None:
        """A value on one line, or None when it spans lines or holds a comment."""
        start, end = value.span.start, value.span.end
        if not isinstance(value, ast.List):
            text = self.text[start:end]
            return None if "\n" in text else text
        if self._has_comment(start, end):
            return None
        parts = [self._inline(v) for v in value.items]
        if any(p is None for p in parts):
            return None
        return "[" + ", ".join(p for p in parts if p is not None) + "]"

    # -- lines, tokens and comments -----------------------------------------------------------

    def line(self, pos: int, indent: int, *, comment_indent: int | None = None,
             force_blank: bool = False, blanks: bool = True, closing: bool = False) -> None:
        """Start a line for the token at `pos`; the comments before it go on lines above it.

        A blank line is kept where the source had one or more (when `blanks`), and put where
        `force_blank` asks, before the comments that lead up to the token.
        """
        owed = self._comments_before(pos, indent if comment_indent is None else comment_indent,
                                     blanks, force_blank)
        gap = self.text[self.last_end:pos]
        self._new_line(indent, blanks and not closing and (owed or gap.count("\n") > 1))
        self.cont = indent + INDENT

    def keyword(self, word: str, pos: int) -> int:
        """Print the keyword that is the next token at or after `pos`; returns its end."""
        start = self._at(pos, word)
        self.word(word, start, start + len(word))
        return start + len(word)

    def word(self, text: str, start: int, end: int, sep: str = " ") -> None:
        """Print the token at source offsets start..end after `sep` on the current line."""
        self._comments_before(start, self.cont, blanks=False)
        if not self.open:
            self._new_line(self.cont, False)
        self._put(text if self.empty else sep + text)
        self.last_end = end
        self.last_line = len(self.lines) - 1

    def _comments_before(self, pos: int, indent: int, blanks: bool,
                         force_blank: bool = False) -> bool:
        """Print the comments before offset `pos`; returns whether a forced blank is still owed."""
        while self.pending < len(self.comments) and self.comments[self.pending][0] < pos:
            start, end, body = self.comments[self.pending]
            self.pending += 1
            gap = self.text[self.last_end:start]
            before = self.text[self.text.rfind("\n", 0, start) + 1:start]
            if before.strip(_TRIVIA) and self.last_line >= 0:
                self.trailing[self.last_line] = body  # a trailing comment stays trailing
            else:
                self._new_line(indent, blanks and (force_blank or gap.count("\n") > 1))
                self._put(body)
                force_blank = False
            self.open = False
            self.last_end = end
            self.last_line = -1
        return force_blank

    def _new_line(self, indent: int, blank: bool) -> None:
        if blank and not self.fresh:
            self.lines.append("")
        self.lines.append(" " * indent)
        self.open, self.empty, self.fresh = True, True, False

    def _put(self, text: str) -> None:
        first, *rest = text.split("\n")  # a triple-quoted string is copied line for line
        self.lines[-1] += first
        self.lines.extend(rest)
        self.empty = False

    def _skip(self, pos: int) -> int:
        """The offset of the first token at or after `pos`, past whitespace and comments."""
        text = self.text
        while pos < len(text):
            if text[pos] in _TRIVIA:
                pos += 1
            elif text[pos] == "#":
                newline = text.find("\n", pos)
                pos = len(text) if newline == -1 else newline
            else:
                break
        return pos

    def _at(self, pos: int, word: str) -> int:
        start = self._skip(pos)
        if not self.text.startswith(word, start):  # the grammar guarantees it
            raise AssertionError(f"expected {word!r} at offset {start}")
        return start

    def _has_comment(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self.starts, start)
        return i < len(self.starts) and self.starts[i] < end

    def result(self) -> str:
        """The text; trailing comments on adjacent lines of one indentation share a column."""
        lines = self.lines
        ordered = sorted(self.trailing)
        first = 0
        while first < len(ordered):
            last = first
            while (last + 1 < len(ordered) and ordered[last + 1] == ordered[last] + 1
                   and _indent(lines[ordered[last + 1]]) == _indent(lines[ordered[first]])):
                last += 1
            group = ordered[first:last + 1]
            column = max(len(lines[i]) for i in group) + 2
            for i in group:
                lines[i] = lines[i].ljust(column) + self.trailing[i]
            first = last + 1
        return "\n".join(lines) + "\n" if lines else ""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))
