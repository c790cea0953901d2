"""Shared by fixes: replace a stage setting's value, add a field line, or take one item out of
a comma-separated list without touching the comments around it."""

from __future__ import annotations

from collections.abc import Sequence

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


def outside_comments(text: str, start: int, end: int, char: str) -> list[int]:
    """Offsets of `char` in text[start:end] that are not inside a `#` comment (the stretch
    between two tokens holds only blanks, commas, brackets and comments)."""
    out, i = [], start
    while i < end:
        c = text[i]
        if c == "#":
            newline = text.find("\n", i, end)
            i = end if newline == -1 else newline
            continue
        if c == char:
            out.append(i)
        i += 1
    return out


def _blank(text: str) -> bool:
    return not text.strip(" \t\r")


def _whole_line(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a deletion to its whole line when nothing but blanks would be left on it."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    if _blank(text[line_start:start]) and _blank(text[end:line_end]) and line_end < len(text):
        return line_start, line_end + 1
    return start, end


def remove_item(text: str, items: Sequence[tuple[int, int]], i: int, close: int
                ) -> tuple[Edit, ...]:
    """Edits that delete item i of a comma-separated sequence with one comma beside it.

    items are the (start, end) offsets of every item; `close` is the offset of the bracket
    that ends the sequence. Comments between items stay where they are.
    """
    start, end = items[i]
    following = items[i + 1][0] if i + 1 < len(items) else close
    after = outside_comments(text, end, following, ",")
    if after:  # `item,` goes, with the blanks up to the next token on that line
        comma = after[0]
        stop = comma + 1
        while stop < following and text[stop] in " \t":
            stop += 1
        if "#" not in text[end:comma]:
            return (Edit(*_whole_line(text, start, stop), ""),)
        # a comment between the item and its comma: each goes on its own, the comment stays
        return Edit(*_whole_line(text, start, end), ""), Edit(comma, stop, "")
    if i > 0:  # the last item: the comma before it goes, and the item with its blanks
        comma = outside_comments(text, items[i - 1][1], start, ",")[-1]
        begin = start
        while begin > comma + 1 and text[begin - 1] in " \t":
            begin -= 1
        if begin == comma + 1:
            return (Edit(comma, end, ""),)
        return Edit(comma, comma + 1, ""), Edit(*_whole_line(text, begin, end), "")
    return (Edit(start, end, ""),)
