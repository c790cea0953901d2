"""Suppress: the comments the parser kept, and the `# constlang: ignore[...]` ones among them.

Syntax (documented in docs/lint.md):
  code  # constlang: ignore[CL304]            the finding on this line
  # constlang: ignore[CL304, CL101]            the next code line (a whole declaration, a
  principle lecture { ... }                    field or a template when it starts there)
  # constlang: ignore-file[CL601]             anywhere: the whole file
Text after the closing `]` is a free-form reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from lark import Token

from constlang.errors import Diagnostic
from constlang.source import SourceText
from constlang.syntax import ast

_DIRECTIVE_RE = re.compile(r"#\s*constlang\s*:\s*(?P<kind>ignore-file|ignore)\b"
                           r"(?:\s*\[(?P<codes>[^\]]*)\])?")
_NOT_CODE_RE = re.compile(r"\s*(#.*)?")


@dataclass(frozen=True)
class Comment:
    text: str
    start: int
    end: int
    line: int
    own_line: bool  # nothing but whitespace before it on its line


@dataclass
class Suppression:
    comment: Comment
    file_wide: bool
    codes: list[str]  # as written, in order
    codes_span: tuple[int, int] | None  # offsets of the text between the brackets
    first_line: int = 0  # the lines it covers (file-wide: all)
    last_line: int = 0
    used: set[str] = field(default_factory=set)
    reason: str = ""  # the free-form text after the directive

    def covers(self, d: Diagnostic) -> bool:
        if d.code not in self.codes or d.span is None:
            return False
        return self.file_wide or self.first_line <= d.span.line <= self.last_line


def comments_from_tokens(source: SourceText, tokens: Iterable[Token]) -> list[Comment]:
    """The file's comments, from the COMMENT tokens the resolver kept for its module."""
    return [_comment(source, tok.start_pos or 0, str(tok)) for tok in tokens]


def _comment(source: SourceText, start: int, text: str) -> Comment:
    line_start = source.text.rfind("\n", 0, start) + 1
    own = not source.text[line_start:start].strip()
    return Comment(text, start, start + len(text), source.position(start)[0], own)


def parse_suppressions(comments: list[Comment], source: SourceText,
                       module: ast.Module) -> list[Suppression]:
    """The suppression comments, each with the lines it covers."""
    blocks = _block_ends(module)
    out = []
    for c in comments:
        m = _DIRECTIVE_RE.match(c.text)
        if m is None:
            continue
        raw = m.group("codes")
        codes = [x.strip() for x in raw.split(",") if x.strip()] if raw is not None else []
        span = None
        if raw is not None:
            start = c.start + m.start("codes")
            span = (start, start + len(raw))
        s = Suppression(c, m.group("kind") == "ignore-file", codes, span,
                        reason=c.text[m.end():].strip())
        target = _next_code_line(source, c.line) if c.own_line else c.line
        s.first_line = target
        s.last_line = max([target, *blocks.get(target, [])])
        out.append(s)
    return out


def _next_code_line(source: SourceText, line: int) -> int:
    """The first line after `line` holding code (not blank, not only a comment)."""
    n = line + 1
    while n <= source.line_count and _NOT_CODE_RE.fullmatch(source.line_text(n)):
        n += 1
    return n


def _block_ends(module: ast.Module) -> dict[int, list[int]]:
    """start line → end lines of the items and fields that start on it."""
    ends: dict[int, list[int]] = {}

    def add(start: int, end: int) -> None:
        ends.setdefault(start, []).append(end)

    for item in module.items:
        add(item.span.line, item.span.end_line)
        fields: tuple[ast.Field, ...] = ()
        if isinstance(item, (ast.Declaration, ast.Constitution)):
            fields = item.fields
        for f in fields:
            add(f.span.line, f.span.end_line)
    return ends


def apply_suppressions(diagnostics: list[Diagnostic],
                       suppressions: list[Suppression]) -> list[Diagnostic]:
    """The diagnostics no suppression covers; marks each code of a suppression that was used."""
    kept = []
    for d in diagnostics:
        covering = [s for s in suppressions if s.covers(d)]
        for s in covering:
            s.used.add(d.code)
        if not covering:
            kept.append(d)
    return kept
