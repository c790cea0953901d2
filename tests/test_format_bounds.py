"""Issue #17: formats whose size is set by widths, precisions or repeated fields are refused
before they allocate, in every spelling (`%`, the `format` filter, `str.format`, `format_map`,
nested `{}` specs, `*` widths, Markup), and the bounds never fall below the real size."""

from __future__ import annotations

import itertools
import tracemalloc
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from constlang.semantics.formatsize import field_size, percent_size
from constlang.semantics.templates import TemplateRenderError, render

W = 99_999  # a width just under the cap on numbers passed to calls
BIG = "{% set s = 'x' * 2000000 %}"  # a value the template may build: half the limit
ALLOCATION_MB = 48  # what a refused render may allocate at most (the limit is 4 MB of text)

# (what a field is, what it is formatted with): every spelling prints 2,000,000 characters or
# pads to a width of 99,999 once per field, and is repeated so the result is gigabytes large
PERCENT_FIELDS = [
    ("%s", "s"), ("%r", "s"), ("%a", "s"), ("%5s", "s"), ("%-s", "s"),
    ("%*s", f"{W}, 'x'"), ("%-*s", f"{W}, 'x'"), ("%0*d", f"{W}, 1"), ("%*d", f"{W}, 7"),
    ("%*.*s", f"{W}, {W}, s"), ("%.*f", f"{W}, 1.5"), ("%*.*f", f"{W}, {W}, 2.5"),
    ("%#*x", f"{W}, 255"), ("%+*e", f"{W}, 1.0"), ("% *g", f"{W}, 1.0"), ("%*c", f"{W}, 65"),
]
KEYED_FIELDS = ["%(a)s", "%(a)r", "%(a)a", "%(a)-9s", "%(a)s%(a)s"]
BRACE_FIELDS = [
    ("{0}", "s"), ("{0!r}", "s"), ("{0!a}", "s"), ("{0!s:>3}", "s"),
    ("{0:{1}}", f"'x', {W}"), ("{0:>{1}}", f"'x', {W}"), ("{0:^{1}}", f"s, {W}"),
    ("{0:{1}.{1}}", f"'x', {W}"), ("{0:.{1}f}", f"1.5, {W}"), ("{0:{1}.{1}f}", f"1.5, {W}"),
    ("{0:0{1}d}", f"7, {W}"), ("{0:,.{1}f}", f"2.5, {W}"), ("{0:{1},}", f"1, {W}"),
    ("{0:*<{1}}", f"'x', {W}"), ("{0:{2}>{1}}", f"'x', {W}, '*'"), ("{0[0]:{1}}", f"['x'], {W}"),
    ("{0:{1}e}", f"1.0, {W}"), ("{0:{1}n}", f"1, {W}"), ("{0:{1}b}", f"5, {W}"),
]
KEYWORD_FIELDS = ["{a}", "{a!r}", "{a:>{w}}", "{a:{w}.{w}}", "{n:.{w}f}", "{a:{f}{w}}"]
REPEAT = 300


def _percent_templates() -> list[str]:
    out = []
    for field, args in PERCENT_FIELDS:
        fmt, values = f"('{field}' * {REPEAT})", f"(({args},) * {REPEAT})"
        out += [f"{{{{ {fmt} % {values} }}}}", f"{{{{ {fmt}|format(*{values}) }}}}",
                f"{{{{ ({fmt}|safe) % {values} }}}}"]
    for field in KEYED_FIELDS:
        fmt = f"('{field}' * {REPEAT})"
        out += [f"{{{{ {fmt} % {{'a': s}} }}}}", f"{{{{ {fmt}|format(a=s) }}}}",
                f"{{{{ ({fmt}|safe) % {{'a': s}} }}}}"]
    return out


def _brace_templates() -> list[str]:
    out = []
    for field, args in BRACE_FIELDS:
        fmt = f"('{field}' * {REPEAT})"
        out += [f"{{{{ {fmt}.format({args}) }}}}", f"{{{{ ({fmt}|safe).format({args}) }}}}",
                f"{{{{ ({fmt}|attr('format'))({args}) }}}}"]
    for field in KEYWORD_FIELDS:
        fmt = f"('{field}' * {REPEAT})"
        values = f"a=s, w={W}, n=1.5, f='<'"
        out += [f"{{{{ {fmt}.format({values}) }}}}",
                f"{{{{ {fmt}.format_map(dict({values})) }}}}"]
    # auto-numbered fields take fresh arguments each time
    out.append(f"{{{{ ('{{:{{}}}}' * {REPEAT}).format(*(('x', {W}) * {REPEAT})) }}}}")
    out.append(f"{{{{ ('{{:.{{}}f}}' * {REPEAT}).format(*((1.5, {W}) * {REPEAT})) }}}}")
    return out


def _peak_mb(src: str) -> tuple[BaseException | None, float]:
    tracemalloc.start()
    try:
        render(src, {})
        error: BaseException | None = None
    except TemplateRenderError as exc:
        error = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return error, peak / 2**20


@pytest.mark.parametrize("expr", _percent_templates() + _brace_templates())
def test_oversized_formats_are_refused_before_they_allocate(expr: str) -> None:
    error, peak = _peak_mb(BIG + expr)
    assert error is not None and "would be" in str(error), error
    assert peak < ALLOCATION_MB, f"{peak:.0f} MB allocated before the refusal"


@pytest.mark.parametrize("src", [
    "{{ '%.99999999f' % 1.5 }}", "{{ '%099999999d' % 1 }}", "{{ '{:099999999}'.format(1) }}",
    "{{ '{:.99999999}'.format(1.5) }}", "{{ '%*s' % (10**12, 'x') }}",
    "{{ '{0:{1}}'.format('x', '9' * 40) }}", "{{ '%.' ~ '9' * 40 ~ 'f' }}",
    "{{ ('%.' ~ '9' * 40 ~ 'f') % 1.5 }}", "{{ '%(a)*d' % {'a': 1} }}",
])
def test_single_huge_widths_and_precisions(src: str) -> None:
    error, peak = _peak_mb(src)
    assert peak < ALLOCATION_MB
    if error is not None:
        assert "Traceback" not in str(error)


def test_formats_within_the_budget_render_exactly() -> None:
    out = render("{{ '%(a)s-%(b)5d' % {'a': 'x', 'b': 3} }}"
                 "{{ '|%-4d|%#x|%c|%.2f|%*s' % (7, 255, 65, 3.14159, 3, 'y') }}"
                 "{{ '|{a}/{b:>4}|'.format_map({'a': 1, 'b': 'y'}) }}"
                 "{{ '{:_d}|{:08.3f}|{:^9}|{!r}|{:{}}|'.format(1000, 3.5, 'mid', 'q', 'z', 3) }}"
                 "{{ ('{0}' * 3).format('ab') }}{{ '|%s' % {'k': 1} }}", {})
    assert out == ("x-    3|7   |0xff|A|3.14|  y|1/   y|"
                   "1_000|0003.500|   mid   |'q'|z  |ababab|{'k': 1}\n")


def test_a_format_field_cannot_print_a_method() -> None:
    # `{0.upper}` looked up the method through the sandbox and printed its repr
    for src in ("{{ '{0.upper}'.format('x') }}", "{{ '{0.upper!r}'.format('x') }}",
                "{{ '{d.items}'.format_map({'d': {}}) }}"):
        with pytest.raises(TemplateRenderError, match="only text, numbers"):
            render(src, {})


# -- the bounds hold: never below what Python builds -------------------------------------

VALUES: list[Any] = ["", "ab", "é\x00\U0001f600'\"", 0, -7, 2**70, True, None, 1.5, -1e300,
                     float("inf"), 1e-7, [1, "a"], {"k": ["v", 2.5]}, ("t",)]
SPECS = ["", "s", "d", "5", "<9", "^12", "*>7", "+", "#x", "#o", "b", "c", ",", "_d", ".3",
         "10.4", ".0f", "f", "e", "E", ".2%", "g", "#.5g", "n", ",.2f", "020.3f", "z.1f"]


def test_field_bounds_cover_every_value_and_spec() -> None:
    for value, spec in itertools.product(VALUES, SPECS):
        try:
            real = format(value, spec)
        except (ValueError, TypeError, OverflowError):
            continue
        assert field_size(value, spec) >= len(real), (value, spec)


PERCENT_KINDS = "sradiuoxXeEfFgGc%"


@given(st.lists(st.tuples(st.sampled_from(["", "-", "0", "#", "+", " "]),
                          st.sampled_from(["", "3", "12", "*"]),
                          st.sampled_from(["", ".0", ".4", ".*"]),
                          st.sampled_from(PERCENT_KINDS),
                          st.sampled_from(range(len(VALUES))),
                          st.integers(-20, 20)), max_size=5),
       st.booleans())
def test_percent_bounds_cover_what_python_builds(fields: list[tuple[Any, ...]],
                                                 markup: bool) -> None:
    fmt, args = "<", []
    for flag, width, prec, kind, which, star in fields:
        fmt += f"%{flag}{width}{prec}{kind}."
        args += [star] * (width == "*") + [star] * (prec == ".*")
        if kind != "%":
            args.append(VALUES[which])
    text: str = Markup(fmt) if markup else fmt
    try:
        real = text % tuple(args)
    except (ValueError, TypeError, OverflowError):
        return
    assert percent_size(text, tuple(args)) >= len(real)


def test_percent_bounds_with_a_mapping_and_a_single_value() -> None:
    values = {"a": "x" * 50, "b": 2**100}
    for fmt in ("%(a)s%(a)r%(b)d", "%(a)-80s|%(b)#x", "%(a).3s"):
        assert percent_size(fmt, values) >= len(fmt % values)
    for value in ("x" * 40, [1, 2], {"k": "v"}, 7):
        pair = (value, value)
        assert percent_size("%s|%r", pair) >= len("%s|%r" % pair)  # noqa: UP031
        assert percent_size("%s", value) >= len("%s" % (value,))  # noqa: UP031
