"""Sandbox: upper bounds on what `%`, the `format` filter and `str.format` build, before they run.

A format can print one value many times (`"{0}{0}{0}"`, `"%(a)s%(a)s"`), pad every field to a
width taken from an argument (`"%*s"`, `"{:{}}"`, `"{:>{w}}"`) or ask for a huge precision
(`"%.99999999f"`, `"{:.{}f}"`). Counting the digits in the format string once is not enough:
each field is parsed here, its width, precision and value are read, and the bound is the sum
over the fields. `%` is parsed up front; `str.format` is checked field by field, just before
each field is formatted, by a formatter that keeps a running total.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEscapeFormatter, SandboxedFormatter
from markupsafe import Markup

HUGE = 10**12  # stands for a width or precision too long to read as a number
ESCAPE_GROWTH = 5  # the most one character grows by when Markup escapes it (`'` → `&#39;`)
FIELD_EXTRA = 8  # sign, `0x` prefix, `%` sign, exponent sign: a little more than a value's digits
FLOAT_DIGITS = 310  # digits before the point of the largest float (1.8e308)

# the format-spec mini-language: [[fill]align][sign][z][#][0][width][grouping][.precision][type]
_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)(?P<group>[,_]?)"
                   r"(?:\.(?P<prec>\d+))?(?P<type>[bcdeEfFgGnosxX%]?)", re.S)
FLOAT_KINDS = frozenset("eEfFgG%")  # conversions that print a number as a float
FIXED_KINDS = frozenset("fF%")  # ... with every digit before the point
INTEGER_KINDS = frozenset("diuoxX")
_DIGITS = re.compile(r"\d+")
_FLAGS = frozenset("-+ #0")


def number(digits: str) -> int:
    """A width or precision written in digits (HUGE when too long to be sensible)."""
    return int(digits) if len(digits) < 13 else HUGE


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def text_size(value: Any, quoted: bool = False) -> int:
    """An upper bound of len(str(value)), or of len(repr(value)) when `quoted`, for a plain
    value (text, numbers, booleans, none, and lists and mappings of them)."""
    if isinstance(value, str):
        # repr escapes a character as at most ten (`\U0001f600`), between two quotes
        return 10 * len(value) + 2 if quoted else len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 3  # decimal digits and a sign
    if isinstance(value, float):
        return 24  # repr of any float: `-1.2345678901234567e-308`
    if isinstance(value, (list, tuple)):
        return 3 + sum(text_size(v, True) + 2 for v in value)
    if isinstance(value, dict):
        return 2 + sum(text_size(k, True) + text_size(v, True) + 4 for k, v in value.items())
    raise SecurityError("a format prints only text, numbers and lists of them")


def _natural(value: Any, kind: str, precision: int | None) -> int:
    """How long a value grows in a field of this conversion `kind` ('' for none), before any
    width pads it."""
    if kind == "c":
        return 1
    if isinstance(value, (int, float)) and (kind in FLOAT_KINDS or isinstance(value, float)):
        if kind in INTEGER_KINDS:  # `%d` of a float prints its integer part
            return max(FLOAT_DIGITS, precision or 0) + FIELD_EXTRA
        places = 6 if precision is None else precision
        whole = FLOAT_DIGITS if kind in FIXED_KINDS else 24  # `g`, `e` and repr stay short
        return whole + places + FIELD_EXTRA
    if isinstance(value, int):  # booleans too
        digits = value.bit_length() + FIELD_EXTRA  # binary is the longest base
        return (2 if kind == "n" else 1) * max(digits, precision or 0) + FIELD_EXTRA
    size = text_size(value, quoted=kind in ("r", "a"))
    return size if precision is None else min(size, precision)


def field_size(value: Any, spec: str) -> int:
    """An upper bound of len(format(value, spec)) (the size of one `str.format` field)."""
    m = _SPEC.fullmatch(spec)
    if m is None:  # not a spec Python accepts: it raises, but count every number to be safe
        return text_size(value) + sum(number(d) for d in _DIGITS.findall(spec)) + FIELD_EXTRA
    width = number(m["width"]) if m["width"] else 0
    precision = number(m["prec"]) if m["prec"] is not None else None
    size = _natural(value, m["type"], precision)
    if m["group"]:
        size *= 2  # a separator every three digits, counted generously
    return max(width, size)


def percent_size(fmt: str, args: Any) -> int:
    """An upper bound of len(fmt % args), read from the format without running it. Where the
    format is malformed Python stops with an error, and so does the count."""
    escape = ESCAPE_GROWTH if isinstance(fmt, Markup) else 1
    mapping = args if isinstance(args, Mapping) else None
    values: Sequence[Any] = args if isinstance(args, tuple) else (args,)
    nxt = 0  # the next positional value
    total, pos, end = len(fmt), 0, len(fmt)

    def take() -> Any:
        nonlocal nxt
        if nxt >= len(values):
            raise LookupError
        nxt += 1
        return values[nxt - 1]

    try:
        while (pos := fmt.find("%", pos)) >= 0:
            pos += 1
            key = None
            if pos < end and fmt[pos] == "(":  # %(key)s: parentheses nest in the key
                depth, start = 1, pos + 1
                while depth and pos + 1 < end:
                    pos += 1
                    depth += {"(": 1, ")": -1}.get(fmt[pos], 0)
                if depth or mapping is None:
                    break
                key, pos = fmt[start:pos], pos + 1
            while pos < end and fmt[pos] in _FLAGS:
                pos += 1
            width, pos = _percent_number(fmt, pos, take)
            precision = None
            if pos < end and fmt[pos] == ".":
                precision, pos = _percent_number(fmt, pos + 1, take)
            while pos < end and fmt[pos] in "hlL":
                pos += 1
            if pos >= end:
                break
            kind, pos = fmt[pos], pos + 1
            if kind != "%":
                value = take() if key is None else mapping[key]  # type: ignore[index]
                total += escape * max(abs(width), _natural(value, kind, precision))
    except (LookupError, TypeError):
        pass  # Python raises here too, before building anything past this field
    return total


def _percent_number(fmt: str, pos: int, take: Callable[[], Any]) -> tuple[int, int]:
    """A width or precision at `pos`: digits, or `*` (the next value); and where it ends."""
    if pos < len(fmt) and fmt[pos] == "*":
        value = take()
        if not is_int(value):
            raise TypeError("* wants int")
        return value, pos + 1
    m = _DIGITS.match(fmt, pos)
    return (number(m.group()), m.end()) if m else (0, pos)


class BoundedFormatter(SandboxedFormatter):
    """Jinja's sandboxed `str.format`, which first refuses a field that would take the text
    built so far past `limit`, and refuses fields that are not plain values."""

    def __init__(self, env: Any, limit: Callable[[int], None], **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._limit = limit  # raises when a result of that many characters is too large
        self._growth = ESCAPE_GROWTH if "escape" in kwargs else 1
        self._total = 0

    def vformat(self, format_string: str, args: Sequence[Any],
                kwargs: Mapping[str, Any]) -> str:
        self._total = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def get_field(self, field_name: str, args: Sequence[Any],
                  kwargs: Mapping[str, Any]) -> tuple[Any, str]:
        obj, first = super().get_field(field_name, args, kwargs)
        text_size(obj)  # refuses a method, a function, any object that is not plain
        return obj, first

    def _grow(self, size: int) -> None:
        self._total += self._growth * size
        self._limit(self._total)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion in ("r", "a"):
            self._grow(text_size(value, True))
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        self._grow(field_size(value, format_spec))
        return super().format_field(value, format_spec)


class BoundedEscapeFormatter(BoundedFormatter, SandboxedEscapeFormatter):
    """`format` of Markup: the same bounds, each field then escaped (so up to five times as
    long)."""
