"""Parser and AST builder: values, strings, numbers, spans, comments and syntax errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from constlang.errors import Diagnostic
from constlang.source import SourceText
from constlang.syntax import ast
from constlang.syntax.builder import MAX_LIST_DEPTH, build
from constlang.syntax.parser import _parser, parse


def module(text: str) -> tuple[ast.Module, list[Diagnostic]]:
    source = SourceText("t.const", text)
    tree, _comments, diags = parse(source)
    assert tree is not None, [d.message for d in diags]
    built, more = build(source, tree)
    return built, diags + more


def syntax_error(text: str) -> Diagnostic:
    tree, _comments, diags = parse(SourceText("t.const", text))
    assert tree is None and len(diags) == 1
    return diags[0]


def field_value(text: str, name: str = "v") -> ast.Value:
    built, diags = module(f"principle p {{ {name} = {text} }}\n")
    assert diags == []
    decl = built.items[0]
    assert isinstance(decl, ast.Declaration)
    f = decl.field(name)
    assert f is not None
    return f.value


def test_the_grammar_builds_as_strict_lalr() -> None:
    parser = _parser()  # strict=True: any conflict raises while building
    assert parser.options.parser == "lalr"


def test_version_header_and_items_in_order() -> None:
    built, diags = module('constlang 1\nimport "a.const"\nprinciple p {}\n'
                          'template t(x, y,) "{{ x }}"\ndrop question q\n')
    assert diags == []
    assert built.version is not None and built.version.number == 1
    kinds = [type(i).__name__ for i in built.items]
    assert kinds == ["Import", "Declaration", "Template", "Drop"]
    tpl = built.items[2]
    assert isinstance(tpl, ast.Template)
    assert [p.name for p in tpl.params] == ["x", "y"]  # trailing comma allowed
    drop = built.items[3]
    assert isinstance(drop, ast.Drop) and (drop.kind, drop.name) == ("question", "q")


def test_override_flags() -> None:
    built, _ = module('override principle p { weight = 2 }\noverride template t(x) "{{ x }}"\n')
    decl, tpl = built.items
    assert isinstance(decl, ast.Declaration) and decl.override
    assert isinstance(tpl, ast.Template) and tpl.override


@pytest.mark.parametrize(("literal", "expected"), [
    (r'"plain"', "plain"),
    (r'"a\nb"', "a\nb"),
    (r'"tab\there"', "tab\there"),
    (r'"cr\r"', "cr\r"),
    (r'"say \"hi\""', 'say "hi"'),
    (r'"back\\slash"', "back\\slash"),
    (r'"nul\0"', "nul\0"),
    (r'"\u00e9t\u00E9"', "été"),
    ('"unicode é ✓"', "unicode é ✓"),
    ('""', ""),
])
def test_string_escapes(literal: str, expected: str) -> None:
    value = field_value(literal)
    assert isinstance(value, ast.Str) and not value.long
    assert value.value == expected


def test_unknown_escapes_are_located_and_the_rest_still_builds() -> None:
    built, diags = module('principle p {\n  v = "C:\\Users and \\q"\n  w = 1\n}\n')
    assert [(d.code, d.span.line, d.span.column) for d in diags] == [("E003", 2, 10),
                                                                       ("E003", 2, 21)]
    assert "`\\U`" in diags[0].message
    decl = built.items[0]
    assert isinstance(decl, ast.Declaration) and decl.field("w") is not None


@pytest.mark.parametrize(("literal", "expected"), [
    ('"""one line"""', "one line"),
    # the line holding the closing quotes, and the break before it, are layout, not text
    ('"""\n    first\n      second\n    """', "first\n  second"),
    ('"""\n    first\n\n    """', "first\n"),  # an intended blank line stays
    ('"""\n  a\n\n  b"""', "a\n\nb"),
    ('"""\n\tx\n\ty\n"""', "x\ny"),
    ('"""no \\n escapes "quoted" here"""', 'no \\n escapes "quoted" here'),
    ('""""""', ""),
])
def test_triple_quoted_strings_are_literal_and_dedented(literal: str, expected: str) -> None:
    value = field_value(literal)
    assert isinstance(value, ast.Str) and value.long
    assert value.value == expected


def test_triple_quoted_string_body_position() -> None:
    built, _ = module('template t(x) """\n      {{ x }}\n"""\n')
    tpl = built.items[0]
    assert isinstance(tpl, ast.Template)
    assert (tpl.body.body_line, tpl.body.body_indent) == (2, 6)


@pytest.mark.parametrize(("literal", "expected", "kind"), [
    ("0", 0, int), ("42", 42, int), ("-7", -7, int), ("1.5", 1.5, float), ("-0.25", -0.25, float),
    (".5", 0.5, float), ("5.", 5.0, float), ("2e-5", 2e-5, float), ("1E3", 1000.0, float),
    ("-1.5e+2", -150.0, float), ("007", 7, int),
])
def test_numbers(literal: str, expected: float, kind: type) -> None:
    value = field_value(literal)
    assert isinstance(value, ast.Number)
    assert value.value == expected and type(value.value) is kind
    assert value.text == literal


@pytest.mark.parametrize("literal", ["1e999", "-1e999", "9" * 5000])
def test_numbers_too_large_are_errors_not_crashes(literal: str) -> None:
    built, diags = module(f"principle p {{ v = {literal} }}\n")
    assert [d.code for d in diags] == ["E003"]
    assert diags[0].message == "number is too large"


def test_booleans_references_and_lists() -> None:
    assert field_value("true") == ast.Bool(True, field_value("true").span)
    assert isinstance(field_value("false"), ast.Bool) and not field_value("false").value
    ref = field_value("per_revision")
    assert isinstance(ref, ast.Ref) and ref.name == "per_revision"
    lst = field_value('[a, "b", 1, true, [2,],]')
    assert isinstance(lst, ast.List)
    assert ast.plain(lst) == ["a", "b", 1, True, [2]]
    assert ast.plain(field_value("[]")) == []


def test_keywords_are_names_where_a_name_is_expected() -> None:
    built, diags = module('principle model { stage = [model, import, template] }\n')
    assert diags == []
    decl = built.items[0]
    assert isinstance(decl, ast.Declaration) and decl.name == "model"
    assert ast.plain(decl.fields[0].value) == ["model", "import", "template"]


@pytest.mark.parametrize("string", ['"x"', '"""x"""'])
def test_a_field_named_like_a_keyword_after_a_string_value(string: str) -> None:
    # Regression: the template body shared the `string` rule, so LALR merged the states after
    # a string and `model` lexed as the declaration keyword instead of a field name.
    built, diags = module(f"stage s {{\n  kind = {string}\n  model = m\n}}\n")
    assert diags == []
    decl = built.items[0]
    assert isinstance(decl, ast.Declaration)
    assert [f.name for f in decl.fields] == ["kind", "model"]


def test_spans_are_one_based_and_end_exclusive() -> None:
    built, _ = module('constlang 1\n\nprinciple harmful {\n  weight = 1.5\n}\n')
    decl = built.items[0]
    assert isinstance(decl, ast.Declaration)
    s = decl.name_span
    assert (s.line, s.column, s.end_line, s.end_column) == (3, 11, 3, 18)
    f = decl.fields[0]
    assert (f.name_span.line, f.name_span.column) == (4, 3)
    assert (f.value.span.column, f.value.span.end_column) == (12, 15)
    assert (decl.span.line, decl.span.end_line) == (3, 5)


def test_comments_are_collected_in_order() -> None:
    source = SourceText("t.const", '# head\nconstlang 1 # version\nprinciple p { # inside\n}\n')
    tree, comments, diags = parse(source)
    assert tree is not None and diags == []
    assert [str(c) for c in comments] == ["# head", "# version", "# inside"]
    assert [c.line for c in comments] == [1, 2, 3]


def test_comments_do_not_leak_between_parses() -> None:
    parse(SourceText("a.const", "# a\n"))
    _tree, comments, _ = parse(SourceText("b.const", "# b\n"))
    assert [str(c) for c in comments] == ["# b"]


def _commented_file(tag: str, count: int) -> tuple[SourceText, list[str]]:
    """A file of `count` principles, each with a comment naming `tag` and its index."""
    lines = ["constlang 1"]
    for i in range(count):
        lines += [f"# {tag} {i}", f'principle {tag}{i} {{ critique = "c" }}']
    expected = [f"# {tag} {i}" for i in range(count)]
    return SourceText(f"{tag}.const", "\n".join(lines) + "\n"), expected


def test_concurrent_parses_each_get_their_own_comments() -> None:
    files = [_commented_file("left", 80), _commented_file("right", 50)]

    def comments_of(i: int) -> tuple[list[str], list[str]]:
        source, expected = files[i % 2]
        tree, comments, diags = parse(source)
        assert tree is not None and diags == []
        return [str(c) for c in comments], expected

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(comments_of, range(100)))
    assert all(got == expected for got, expected in results)


@pytest.mark.parametrize(("text", "code", "line", "col", "message", "help_part"), [
    ('principle p {\n  critique "x"\n}\n', "E001", 2, 12, 'unexpected `"x"`', "`=`"),
    ("principle p {\n  a = 1\n", "E001", 1, 13, "`{` of principle `p` is never closed",
     "before the end of the file"),
    ("stage s {\n  a = [1,\n", "E001", 3, 1, "unexpected end of file", "`[` is never closed"),
    ("principle p { tags = [1, 2 }\n", "E001", 1, 28, "unexpected `}`", "`]`"),
    ("principle p { tags = [1, 2", "E001", 1, 27, "unexpected end of file", "`[`"),
    ("principle p = 1\n", "E001", 1, 13, "unexpected `=`", "inside `{ ... }`"),
    ("principle p { a = 1 b }\n", "E001", 1, 23, "unexpected `}`", None),
    ("principle {}\n", "E001", 1, 11, "unexpected `{`", "a name"),
    ('principle p { v = "abc\n}\n', "E002", 1, 19, "unterminated string", "same line"),
    ('principle p { v = """abc\n}\n', "E002", 1, 19, "unterminated triple-quoted string",
     '`"""`'),
    ('principle p { v = """abc"\n}\n', "E002", 1, 19, "unterminated triple-quoted string",
     '`"""`'),
    ("principle p { v = 'x' }\n", "E002", 1, 19, "unexpected character `'`", "double quotes"),
    ("principle p { v = @ }\n", "E002", 1, 19, "unexpected character `@`", None),
    ("principle p { v = 1 }\n\x01\n", "E002", 2, 1, "unexpected character `\\x01`", None),
    ("constlang one\n", "E001", 1, 11, "unexpected `one`", "whole number"),
])
def test_syntax_errors(text: str, code: str, line: int, col: int, message: str,
                       help_part: str | None) -> None:
    d = syntax_error(text)
    assert (d.code, d.span.line, d.span.column, d.message) == (code, line, col, message)
    if help_part is not None:
        assert d.help is not None and help_part in d.help


def test_long_token_is_shortened_in_the_message() -> None:
    d = syntax_error(f'principle p {{ critique "{"x" * 100}" }}\n')
    assert d.message.endswith("…`") and len(d.message) < 50


def test_deep_lists_are_an_error_not_a_crash() -> None:
    depth = 10_000
    built, diags = module(f"principle p {{ v = {'[' * depth}{']' * depth} }}\n")
    assert [d.code for d in diags] == ["E001"]
    assert str(MAX_LIST_DEPTH) in diags[0].message


def test_lists_just_under_the_depth_limit_build() -> None:
    depth = MAX_LIST_DEPTH
    value = field_value("[" * depth + "]" * depth)
    for _ in range(depth - 1):
        assert isinstance(value, ast.List) and len(value.items) == 1
        value = value.items[0]
    assert isinstance(value, ast.List) and value.items == ()


@pytest.mark.parametrize(("body", "code", "help_part"), [
    ('principle p { critique: "x" }', "E002", "fields are written `name = value`"),
    ('principle p { critique = "x", revision = "y" }', "E001", "not commas"),
    ('principle p { critique = "x"; }', "E002", "no `;` is needed"),
    ("principle p { critique = 'x' }", "E002", "double quotes"),
    ("principle p { critique = x y }", "E001", "expected `=` after `y`"),
    ("Principle p { }", "E001", "did you mean `principle`?"),
    ("frobnicate p { }", "E001", "expected a declaration: constlang, constitution, import"),
    ('model m { source = embedded:smollm2-135m-instruct }', "E002", "put it in double quotes"),
    ("principle p { critique = \u201cr\u201d }", "E002", "straight double quotes"),
    ("principle caf\u00e9 { }", "E002", "names use ASCII letters"),
    ("principle 9lives { }", "E001", "start with a letter or `_`"),
])
def test_common_mistakes_get_a_pointed_help(body: str, code: str, help_part: str) -> None:
    from constlang.compile import compile_path

    result = compile_path(Path("m.const"), text=f"constlang 1\n{body}\n", root=Path.cwd())
    (diag,) = [d for d in result.diagnostics if d.code.startswith("E")]
    assert diag.code == code
    assert diag.span is not None and diag.span.line == 2
    assert help_part in (diag.help or "")


def test_a_string_with_many_bad_escapes_is_reported_a_bounded_number_of_times() -> None:
    from constlang.syntax.builder import MAX_ESCAPE_ERRORS

    _, diags = module('constlang 1\nprinciple p { critique = "' + "\\q" * 5000 +
                      '" revision = "r" }\n')
    assert len(diags) == MAX_ESCAPE_ERRORS + 1
    assert diags[-1].message.startswith(f"more than {MAX_ESCAPE_ERRORS} bad escape sequences")


def test_huge_strings_match_without_backtracking_state() -> None:
    # the string terminals are possessive: a 2 MB string parses, and to the same value
    text = "word " * 400_000
    built, diags = module(f'constlang 1\nprinciple p {{ critique = "{text}" revision = '
                          f'"""\n  {text}\n  """ }}\n')
    assert not diags
    decl = built.items[0]
    assert isinstance(decl, ast.Declaration)
    values = [f.value for f in decl.fields]
    assert [v.value for v in values if isinstance(v, ast.Str)] == [text, text]


def test_in_memory_text_gets_the_checks_a_file_gets(tmp_path: Path) -> None:
    from constlang.compile import compile_path

    for bad, words in (("\ud800", "lone surrogate"), ("\x00", "NUL")):
        result = compile_path(tmp_path / "m.const", root=tmp_path,
                              text=f'constlang 1\nprinciple p {{ critique = "a{bad}" }}\n')
        [d] = result.diagnostics
        assert d.code == "E003" and words in d.message and d.span is not None
        assert (d.span.line, d.span.column) == (2, 28)


@pytest.mark.parametrize("next_line", [
    "model m { source = \"x\" }", "  override stage s {", 'import "a.const"',
    "template t(a) \"\"\"{{ a }}\"\"\"", 'constitution "c" {}', "drop principle p"])
def test_an_unclosed_brace_is_reported_at_the_brace_not_at_the_next_declaration(
        next_line: str) -> None:
    text = f'constlang 1\nprinciple p {{\n  critique = "c"\n\n{next_line}\n'
    d = syntax_error(text)
    assert (d.code, d.span.line, d.span.column) == ("E001", 2, 13)
    assert d.message == "`{` of principle `p` is never closed"
    assert d.help == "add `}` where its body ends, before the next declaration"
    [(what, where)] = d.related  # where the parser gave up: the next declaration's first word
    assert what == "where the parser gave up"
    assert (where.line, where.column) == (5, len(next_line) - len(next_line.lstrip()) + 1)


def test_a_field_without_equals_inside_a_body_is_not_blamed_on_the_brace() -> None:
    d = syntax_error("stage s {\n  model m\n}\n")
    assert d.message == "unexpected `m`" and d.related == ()
