"""Check, `check` declarations: the named checker exists and its arguments are usable."""

from __future__ import annotations

from typing import Any

from constlang import declarations as P
from constlang.checks.base import ArgError
from constlang.checks.regex import MAX_PATTERNS, patterns_in
from constlang.checks.registry import CheckerError, checker_class, names
from constlang.errors import did_you_mean
from constlang.semantics.fields import fields_of
from constlang.semantics.resolve import Symbol
from constlang.span import Span
from constlang.syntax import ast

COMMON = fields_of(P.Check, {"id", "location", "args", "checker"})


def check_check(c: Any, sym: Symbol, at: Span) -> Any:
    """The values of one `check` (a `Checked`, from the declaration checker `c`): its common
    fields, then its checker's arguments in `args`; None when the checker is unknown."""
    node = sym.node
    assert isinstance(node, ast.Declaration)
    cls = _checker(c, node, at)
    if cls is None:
        return None
    allowed = {**COMMON, **fields_of(cls.Args, set())}
    checked = c.check_fields(node.fields, allowed, f"check `{node.name}`", at, skip=("checker",))
    assert checked is not None
    checked.symbol = sym
    args = {k: v for k, v in checked.values.items() if k not in COMMON}
    values: dict[str, Any] = {k: v for k, v in checked.values.items() if k in COMMON}
    values["checker"] = cls.name if cls.name else _written(node)
    values["args"] = args
    checked.values = values
    if checked.ok and _within_budget(c, values["checker"], args, node):
        _arguments(c, cls, args, node, checked)
    return checked


def _within_budget(c: Any, checker: str, args: dict[str, Any], node: ast.Declaration) -> bool:
    """At most MAX_PATTERNS regular expressions are compiled per constitution: past that,
    one error, and the rest are not compiled (each may cost milliseconds)."""
    used = getattr(c, "patterns_compiled", 0)
    need = patterns_in(checker, args)
    c.patterns_compiled = used + need
    if need and used + need > MAX_PATTERNS:
        if used <= MAX_PATTERNS:
            c.diags.error("E116", f"check `{node.name}`: more than {MAX_PATTERNS} regular "
                          "expressions in one constitution; this one and the rest are not "
                          "compiled", node.name_span, "merge patterns with `|`, or use "
                          "`phrases` for plain text")
        return False
    return True


def _written(node: ast.Declaration) -> str:
    f = node.field("checker")
    assert f is not None
    return f.value.name if isinstance(f.value, ast.Ref) else str(getattr(f.value, "value", ""))


def _checker(c: Any, node: ast.Declaration, at: Span) -> Any:
    fields = [f for f in node.fields if f.name == "checker"]
    for extra in fields[1:]:
        c.diags.error("E107", f"field `checker` is set twice in check `{node.name}`",
                      extra.name_span, f"the first is on line {fields[0].name_span.line}; "
                      "remove one")
    if not fields:
        c.diags.error("E104", f"check `{node.name}` is missing the required field `checker`",
                      at, "name the checker that decides, e.g. `checker = refusal`; checkers: "
                      + ", ".join(names()))
        return None
    value = fields[0].value
    if not isinstance(value, (ast.Ref, ast.Str)):
        c.diags.error("E105", "`checker` must name a checker", value.span,
                      "checkers: " + ", ".join(names()))
        return None
    word = value.name if isinstance(value, ast.Ref) else value.value
    try:
        return checker_class(word)
    except CheckerError as exc:
        known = names()
        help_ = (did_you_mean(word, known) or "checkers: " + ", ".join(known) +
                 " (installed packages add more: docs/checks.md)")
        c.diags.error("E115", str(exc), value.span, help_ if "unknown" in str(exc) else None)
        return None


def _arguments(c: Any, cls: Any, args: dict[str, Any], node: ast.Declaration,
               checked: Any) -> None:
    """Build the checker once: a pattern that does not compile, a schema that is not one,
    bounds no reply can meet are errors here, pointed at the argument (into its string)."""
    try:
        cls(cls.Args.model_validate(args))
    except ArgError as exc:
        f = node.field(exc.argument)
        span = f.value.span if f is not None else node.name_span
        if f is not None and isinstance(f.value, ast.Str) and exc.offset is not None:
            span = span_inside(c.world, f.value, exc.offset, exc.width) or span
        c.diags.error("E116", f"check `{node.name}`: `{exc.argument}`: {exc.message}", span,
                      exc.help)
        checked.ok = False
    except Exception as exc:  # a custom checker's own validation: report, never crash
        c.diags.error("E116", f"check `{node.name}`: the checker refused its arguments: "
                      f"{type(exc).__name__}: {str(exc)[:200]}", node.name_span, None)
        checked.ok = False


def span_inside(world: Any, value: ast.Str, offset: int, width: int) -> Span | None:
    """The span of characters offset..offset+width of a string's value, in its source (None
    for a triple-quoted string, whose value is dedented)."""
    source = world.source(value.span.file)
    if source is None:
        return None
    raw = source.text[value.span.start:value.span.end]
    at = _source_offset(raw, value.long, offset)
    end = _source_offset(raw, value.long, offset + width)
    if at is None or end is None:
        return None
    return source.span(value.span.start + at, value.span.start + max(end, at + 1))


def _source_offset(raw: str, long: bool, offset: int) -> int | None:
    """Where the value's character `offset` sits in the string's source text `raw`."""
    if long:
        return None
    i, n = 1, 0  # past the opening quote
    while i < len(raw) - 1:
        if n == offset:
            return i
        i += 6 if raw.startswith("\\u", i) else 2 if raw[i] == "\\" else 1
        n += 1
    return i if n == offset else None
