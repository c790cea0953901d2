"""Templates: declared parameters, compile-time variable checks mapped into the .const file,
step variables, and rendering with StrictUndefined."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from constlang.compile import CompileResult
from constlang.errors import Diagnostics
from constlang.kinds import BY_NAME
from constlang.semantics.templates import TemplateRenderError, check_template, render
from constlang.source import SourceText
from constlang.syntax import ast
from constlang.syntax.builder import build
from constlang.syntax.parser import parse

Compile = Callable[..., CompileResult]


def template(text: str) -> ast.Template:
    source = SourceText("t.const", text)
    tree, _, diags = parse(source)
    assert tree is not None and not diags
    module, _ = build(source, tree)
    tpl = module.items[0]
    assert isinstance(tpl, ast.Template)
    return tpl


def check(text: str) -> tuple[set[str], list[tuple[str, int, int]]]:
    diags = Diagnostics()
    used = check_template(template(text), diags)
    return used, [(d.code, d.span.line, d.span.column) for d in diags.sorted() if d.span]


def test_used_variables_are_returned() -> None:
    used, diags = check('template t(a, b, c) "{{ a }}{% for x in b %}{{ x.y }}{% endfor %}"')
    assert used == {"a", "b"}
    assert diags == []


def test_loop_and_set_variables_are_not_parameters() -> None:
    used, diags = check('template t(xs) """\n{% set n = 1 %}{% for x in xs %}{{ x }}{{ n }}'
                        '{{ loop.index }}{% endfor %}\n"""')
    assert (used, diags) == ({"xs"}, [])


@pytest.mark.parametrize(("text", "line", "col"), [
    # one-line string: columns count from the opening quote
    ('template t(x) "{{ x }} {{ y }}"', 1, 27),
    # triple-quoted, text on following lines: dedent is undone
    ('template t(x) """\n    {{ x }}\n      and {{ y }}\n"""', 3, 14),
    # triple-quoted, text starting on the line of the opening quotes
    ('template t(x) """{{ y }}"""', 1, 21),
    ('template t(x) """  {{ y }}\n  {{ x }}"""', 1, 23),
    # tabs count as one column, as in every other diagnostic
    ('template t(x) """\n\t{{ x }}\n\t{{ y }}\n"""', 3, 5),
    # CRLF sources are normalised before parsing
    ('template t(x) """\r\n  {{ y }}\r\n"""', 2, 6),
])
def test_undeclared_variable_is_located_in_the_const_file(text: str, line: int, col: int) -> None:
    text = text.replace("\r\n", "\n")
    _, diags = check(text)
    assert diags == [("E302", line, col)]


@pytest.mark.parametrize(("body", "col"), [
    ('"\\"{{ y }}"', 21),            # \" is two columns in the file, one in the text
    ('"\\u00e9\\t{{ y }}"', 27),      # \u00e9 is six
    ('"caf\u00e9 {{ y }}"', 24),      # a literal é is one
])
def test_undeclared_variable_after_an_escape_is_located_exactly(
        compile_text: Compile, body: str, col: int) -> None:
    result = compile_text(f"constlang 1\ntemplate t(x) {body}\n")
    assert [(d.code, d.span.line, d.span.column) for d in result.diagnostics if d.span] == [
        ("E302", 2, col)]


def test_undeclared_variables_are_reported_once_each_in_order() -> None:
    used, diags = check('template t(x) """\n{{ b }}\n{{ a }} {{ b }}\n"""')
    assert diags == [("E302", 2, 4), ("E302", 3, 4)]
    assert used == {"a", "b"}


def test_syntax_error_is_located_on_its_line() -> None:
    used, diags = check('template t(x) """\n  {{ x }}\n  {% if x %}\n  {{ x }\n"""')
    assert used == set()
    assert [d[:2] for d in diags] == [("E301", 4)]


def test_duplicate_parameters() -> None:
    _, diags = check('template t(a, b, a) "{{ a }}{{ b }}"')
    assert diags == [("E305", 1, 18)]


def test_step_must_provide_every_declared_parameter(compile_text: Compile) -> None:
    result = compile_text(
        'constlang 1\nconstitution "t" {}\nprinciple p { critique = "c" revision = "r" }\n'
        'model m { source = "embedded:smollm2-135m-instruct" }\ndataset d { path = "d" }\n'
        'template mine(prompt, response, verdict) "{{ prompt }}"\n'
        "stage critique_revision { model = m prompts = d critique_template = mine }\n")
    assert [(d.code, d.span.line, d.span.column) for d in result.diagnostics if d.span] == [
        ("E303", 6, 33)]
    assert "critique step" in result.diagnostics[0].message
    assert result.diagnostics[0].help == "that step provides: " + ", ".join(
        BY_NAME["critique_revision"].steps[1].provides)


def test_a_template_may_declare_fewer_variables_than_the_step_provides(
        compile_text: Compile) -> None:
    result = compile_text(
        'constlang 1\nconstitution "t" {}\nprinciple p { critique = "c" revision = "r" }\n'
        'model m { source = "embedded:smollm2-135m-instruct" }\ndataset d { path = "d" }\n'
        'template terse(principle) "{{ principle.critique }}"\n'
        "stage critique_revision { model = m prompts = d critique_template = terse }\n")
    assert result.diagnostics == []
    assert result.plan is not None
    step = result.plan.program("critique_revision").steps[1]
    assert (step.template, step.variables) == ("terse", ["principle"])


def test_unused_templates_are_still_checked(compile_text: Compile) -> None:
    result = compile_text('constlang 1\ntemplate never_used(x) "{{ y }}"\n')
    assert [d.code for d in result.diagnostics] == ["E302"]


# -- rendering ------------------------------------------------------------------------------

def test_render_is_stripped_and_ends_with_one_newline() -> None:
    assert render("\n\n  Hello {{ name }}!  \n\n", {"name": "Ada"}) == "Hello Ada!\n"


def test_render_reads_fields_of_plain_dicts() -> None:
    text = render("{{ p.critique }} / {{ q.options[1] }}",
                  {"p": {"critique": "Be kind."}, "q": {"options": ["Yes", "No"]}})
    assert text == "Be kind. / No\n"


def test_render_trims_block_lines() -> None:
    src = "{% for x in xs %}\n- {{ x }}\n{% endfor %}\nend"
    assert render(src, {"xs": ["a", "b"]}) == "- a\n- b\nend\n"


@pytest.mark.parametrize(("src", "variables"), [
    ("{{ missing }}", {}),
    ("{{ p.nope }}", {"p": {}}),
    ("{{ xs[5] }}", {"xs": []}),
    ("{% for x in missing %}{% endfor %}", {}),
])
def test_undefined_values_fail_loudly(src: str, variables: dict[str, object]) -> None:
    with pytest.raises(TemplateRenderError):
        render(src, variables)


def test_prelude_templates_render_with_what_their_steps_provide(compile_text: Compile) -> None:
    result = compile_text(
        'constlang 1\nconstitution "t" {}\n'
        'principle p { critique = "Find harm." revision = "Fix it." }\n'
        'question q { text = "Which?" }\n'
        'question y { text = "Bad?" kind = pointwise good_answer = "No" }\n'
        'model m { source = "embedded:smollm2-135m-instruct" }\ndataset d { path = "d" }\n'
        "stage critique_revision { model = m prompts = d }\n"
        "stage feedback { policy = m judge = m prompts = d chain_of_thought = true }\n")
    assert result.plan is not None
    values = {"prompt": "P", "response": "R", "critique": "C", "round": 1, "examples": [],
              "response_a": "A", "response_b": "B", "rationale": "",
              "principle": {"critique": "Find harm.", "revision": "Fix it."},
              "question": {"text": "Which?", "options": ["(A)", "(B)"]}}
    for program in result.plan.programs:
        for step in program.steps:
            spec = next(s for s in BY_NAME[result.plan.stage(program.stage).kind].steps
                        if s.name == step.name)
            assert set(step.variables) <= set(spec.provides)
            text = render(step.source, {k: values[k] for k in step.variables})
            assert text.strip()


def test_printing_an_object_is_located_at_each_occurrence() -> None:
    # the word also appears as text and in a condition before the prints: each E308 points
    # at its own `{{ self }}`, not at the first `self` on the line
    _, diags = check('template t(x) """\n  self? {% if self %}{{ x }}{% endif %}{{ self }} '
                     'and {{- self -}}\n"""')
    assert diags == [("E308", 2, 43), ("E308", 2, 59)]
