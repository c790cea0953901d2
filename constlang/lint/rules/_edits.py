"""Shared by fixes that change a stage setting: replace a value, or add a field line."""

from __future__ import annotations

from constlang.errors import Edit
from constlang.lint.context import LintContext
from constlang.semantics.resolve import Symbol


def set_value(ctx: LintContext, sym: Symbol, name: str, text: str) -> Edit | None:
    """Replace the value of a field written in this file."""
    f = ctx.field(sym, name)
    if f is None or not ctx.in_file(f.value.span):
        return None
    return Edit(f.value.span.start, f.value.span.end, text)


def add_field_after(ctx: LintContext, sym: Symbol, after: str, line: str) -> Edit | None:
    """Insert `line` as a new field on the line after field `after`, at the same indent."""
    f = ctx.field(sym, after)
    if f is None or not ctx.in_file(f.span):
        return None
    src = ctx.source
    line_text = src.line_text(f.span.end_line)
    if line_text.strip().endswith("}"):
        return None  # a one-line body: no safe place for a new line
    end_of_line = src.text.find("\n", f.span.end)
    end_of_line = len(src.text) if end_of_line == -1 else end_of_line
    indent = " " * (f.span.column - 1)
    return Edit(end_of_line, end_of_line, f"\n{indent}{line}")
