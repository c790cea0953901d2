"""The template sandbox, tested with hostile templates: what the checker refuses at compile time
(E304) and what `render` refuses at run time (TemplateRenderError), quickly and without
executing anything."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from constlang.compile import CompileResult
from constlang.semantics.templates import TemplateRenderError, environment, render

Compile = Callable[..., CompileResult]


def compile_template(compile_text: Compile, body: str) -> list[tuple[str, int, int]]:
    result = compile_text(f'constlang 1\ntemplate t(x) """\n{body}\n"""\n')
    return [(d.code, d.span.line, d.span.column) for d in result.diagnostics if d.span]


# -- caught at compile time: every one is E304 on line 3 ----------------------------------

@pytest.mark.parametrize(("body", "columns"), [
    ("{{ ''.__class__.__mro__ }}", [7, 17]),
    ("{{ x.__globals__ }}", [6]),
    ("{{ x['__class__'] }}", [7]),
    ("{{ cycler.__init__.__globals__ }}", [11, 20]),
    ("{{ lipsum.__globals__['os'] }}", [11]),
    ("{{ x|attr('__class__') }}", [12]),
    ("{{ x|attr('_private') }}", [12]),
    ("{{ x|map(attribute='__class__')|list }}", [21]),
    ("{{ x|map(attribute='a.__dict__')|list }}", [23]),
    ("{{ x|selectattr('__class__')|list }}", [18]),
    ("{{ x|sort(attribute='_secret') }}", [22]),
    ("{{ x._private }}", [6]),
    ("{{ _hidden }}", [4]),
    ("{% for _i in x %}{% endfor %}", [8]),
    ("{{ self._TemplateReference__context }}", [9]),
    # constant expressions are folded before the check, so they are caught too (the name is
    # not in the text, so the column is the start of the line)
    ("{{ x|attr('_' ~ '_class__') }}", [1]),
    ("{{ x[('__cla' ~ 'ss__')] }}", [1]),
])
def test_internals_are_refused_at_compile_time(compile_text: Compile, body: str,
                                               columns: list[int]) -> None:
    found = compile_template(compile_text, body)
    assert {d for d in found if d[0] == "E304"} == {("E304", 3, c) for c in columns}


@pytest.mark.parametrize("body", [
    "{{ x|attr('upper') }}",
    "{{ x|map(attribute='name')|list }}",
    "{{ x|map('upper')|list }}",
    "{{ x|sort(attribute='weight') }}",
    "{{ x.critique }}",
])
def test_ordinary_attribute_access_is_allowed(compile_text: Compile, body: str) -> None:
    assert compile_template(compile_text, body) == []


# -- not statically visible: refused by the sandbox when rendered --------------------------

@pytest.mark.parametrize(("src", "variables"), [
    ("{% set y = x.append(1) %}{{ x }}", {"x": [1]}),
    ("{{ x.append(1) }}", {"x": [1]}),
    ("{{ x.pop() }}", {"x": [1, 2]}),
    ("{{ x.update({'a': 1}) }}", {"x": {}}),
    ("{{ x.clear() }}", {"x": {"a": 1}}),
    ("{{ x|attr('_' ~ '_class__') }}", {"x": "s"}),
    ("{{ x[('_' ~ '_class__')] }}", {"x": "s"}),
    ("{{ '{0.__class__}'.format(x) }}", {"x": "s"}),
    ("{{ x.mro() }}", {"x": str}),
    ("{{ x.__class__ }}", {"x": "s"}),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", {}),
    ("{{ cycler.__init__.__globals__ }}", {}),
    ("{{ x.__globals__ }}", {"x": render}),
    ("{{ x.__code__ }}", {"x": lambda: None}),
])
def test_hostile_templates_never_execute(src: str, variables: dict[str, object]) -> None:
    before = repr(variables)
    with pytest.raises(TemplateRenderError, match="sandbox"):
        render(src, variables)
    assert repr(variables) == before  # nothing was mutated


def test_the_sandbox_refuses_calls_that_mutate() -> None:
    data = {"items": [1, 2], "table": {"k": "v"}}
    for src in ("{{ items.append(3) }}", "{{ items.extend([3]) }}", "{{ table.setdefault('x') }}",
                "{{ table.popitem() }}", "{{ items.sort() }}"):
        with pytest.raises(TemplateRenderError):
            render(src, data)
    assert data == {"items": [1, 2], "table": {"k": "v"}}


@pytest.mark.parametrize(("src", "message"), [
    ("{{ range(10**9)|list }}", "capped at 100,000"),
    ("{{ range(100001)|length }}", "capped at 100,000"),
    ("{{ 'a' * 10**9 }}", "would be 1,000,000,000 characters"),
    ("{{ [0] * 10**9 }}", "would be 1,000,000,000 characters"),
    ("{{ 10**9 * 'ab' }}", "would be 2,000,000,000 characters"),
    ("{{ 10 ** 1000000 }}", "too large"),
    ("{{ 2.0 ** 100000 }}", "OverflowError"),
    ("{{ 1 / 0 }}", "ZeroDivisionError"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError"),
    ("{% include 'other.txt' %}", "no loader"),
    ("{% import 'other.txt' as o %}", "no loader"),
    ("{% extends 'base.txt' %}", "no loader"),
    ("{{ 'a'|center(10**9) }}", "capped at 100,000"),  # filters size their output too
    ("{{ 'a'|indent(10**9) }}", "capped at 100,000"),
    ("{{ 'a'.center(10**9) }}", "capped at 100,000"),
    ("{{ '{:>999999999}'.format('a') }}", "would be"),
    ("{{ '%999999999s' % 'a' }}", "would be"),
    # issue #11: bounds on the render as a whole, not call by call
    ("{{ '%*s' % (999999999, 'x') }}", "would be"),
    ("{{ '{:{}}'.format('x', 999999999) }}", "capped at 100,000"),
    ("{% set a = 'x' * 1000 %}{{ a|replace('x', a)|replace('x', a) }}", "would be"),
    ("{% set a = 'x' * 3000 %}{{ a.replace('x', a) }}", "would be"),
    ("{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
     "{% endfor %}", "larger than the limit"),
    ("{% set ns = namespace(s=[1]) %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
     "{% endfor %}", "would be"),
    ("{% for i in range(90000) %}{% for j in range(90000) %}{% endfor %}{% endfor %}",
     "steps"),
    ("{% macro a() %}{{ 'x' * 90000 }}{% endmacro %}{% for i in range(90000) %}{{ a() }}"
     "{% endfor %}", "characters"),
    ("{% set ns = namespace(n=3) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}"
     "{% endfor %}", "bits"),
    ("{{ range(90000)|list|join('x' * 90000) }}", "would be"),
    ("{{ ('\t' * 90000).expandtabs(90000) }}", "would be"),
])
def test_resource_abuse_is_refused(src: str, message: str) -> None:
    # each would otherwise allocate gigabytes or run for minutes before failing
    with pytest.raises(TemplateRenderError, match=message):
        render(src, {})


def test_ordinary_filters_and_formats_still_work() -> None:
    assert render("{{ 'ab'|center(6) }}|{{ '%3d' % 7 }}|{{ '{:>3}'.format('x') }}|"
                  "{{ 'a b'|wordwrap(20) }}|{{ [3, 1]|sort|join(',') }}", {}) == \
        "ab  |  7|  x|a b|1,3\n"


def test_small_repetition_still_works() -> None:
    assert render("{{ '-' * 3 }}{{ 2 ** 10 }}{{ [1] * 2 }}{{ x * 2 }}", {"x": 4}) == \
        "---1024[1, 1]8\n"


def test_environment_policy() -> None:
    env = environment()
    assert isinstance(env, ImmutableSandboxedEnvironment)
    assert env.undefined.__name__ == "StrictUndefined"
    assert env.autoescape is False
    assert env.loader is None  # no include/import/extends of files


def test_template_output_is_not_html_escaped() -> None:
    assert render("{{ x }}", {"x": "<b> & 'q'"}) == "<b> & 'q'\n"


@pytest.mark.parametrize("src", [
    "{{ self }}", "{{ range }}", "{{ dict }}", "{{ namespace }}", "{{ namespace() }}",
    "{% for x in [1] %}{{ loop }}{% endfor %}", "{% for x in [1] %}{{ loop|string }}{% endfor %}",
    "{% for x in [1] %}{{ loop.cycle }}{% endfor %}", "{% macro m() %}{% endmacro %}{{ m }}",
    "{{ 'a'.upper }}", "{{ '' ~ self }}", "{{ '%s' % self }}", "{{ '{}'.format(range) }}",
    "{{ [range]|join }}", "{{ self|pprint }}", "{{ range(3) }}",
    "{% macro m() %}{{ caller }}{% endmacro %}{% call m() %}x{% endcall %}",
])
def test_only_plain_values_print(src: str) -> None:
    # issue #11: no Python repr (class names, memory addresses) ever reaches the output
    with pytest.raises(TemplateRenderError, match="only text, numbers"):
        render(src, {})


def test_render_errors_name_the_template_line() -> None:
    with pytest.raises(TemplateRenderError, match="^line 3 of the template: .*bits"):
        render("a\nb\n{% set n = 2 ** 2000 %}{% set n = n * n %}{{ n * n }}", {})


def test_plain_values_and_inputs_larger_than_the_limits_still_render() -> None:
    big = "w" * 5_000_000  # a variable's own size is always allowed
    assert render("{{ p|length }} {{ xs|join(',') }} {{ d }}", {"p": big, "xs": [1, "a"],
                                                             "d": {"k": [1.5, None]}}) == \
        "5000000 1,a {'k': [1.5, None]}\n"
    assert len(render("{{ p }}", {"p": big})) == len(big) + 1
