"""Tests of the formatter: golden layouts, comments, idempotency and meaning preservation."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from constlang.source import SourceText
from constlang.syntax import ast
from constlang.syntax.builder import build
from constlang.syntax.format import MAX_WIDTH, FormatError, format_source
from constlang.syntax.parser import parse

ROOT = Path(__file__).resolve().parents[1]
# Every .const file present when the tests run: shipped ones and the compiler's valid goldens.
CORPUS = [path for pattern in ("constitutions/*.const", "constlang/std/*.const",
                               "tests/golden/valid/**/*.const")
          for path in sorted(ROOT.glob(pattern))]

# Positions, not meaning: a formatted file moves every node.
_POSITION_FIELDS = {"span", "name_span", "body_line", "path"}


def shape(node: object) -> object:
    """An AST node as nested tuples, without spans: equal shapes mean equal meaning."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        skip = _POSITION_FIELDS
        if isinstance(node, ast.Str) and not node.long:
            skip = skip | {"body_indent"}  # a one-line string's column, not a dedent
        return (type(node).__name__,) + tuple(
            (f.name, shape(getattr(node, f.name))) for f in dataclasses.fields(node)
            if f.name not in skip)
    if isinstance(node, tuple | list):
        return tuple(shape(n) for n in node)
    return node


def parsed(text: str) -> tuple[object, list[tuple[str, bool]]]:
    """The shape of a text read as a file is read (BOM, CRLF), and its comments in order,
    each with whether code stands before it on its line."""
    source = SourceText.from_bytes("t.const", text.encode("utf-8"))
    tree, comments, diagnostics = parse(source)
    assert tree is not None, diagnostics
    module, _ = build(source, tree)
    found = []
    for c in sorted(comments, key=lambda c: c.start_pos or 0):
        start = c.start_pos or 0
        before = source.text[source.text.rfind("\n", 0, start) + 1:start]
        found.append((str(c).rstrip(), bool(before.strip(" \t\f\u00a0\ufeff"))))
    return shape(module), found


def check(text: str) -> str:
    """Format `text` and assert the formatter's promises; returns the output."""
    out = format_source(text)
    in_shape, in_comments = parsed(text)
    out_shape, out_comments = parsed(out)
    assert out_shape == in_shape, "formatting changed the meaning"
    # Every comment once, in order; own-line ones stay on their own line, trailing ones stay
    # trailing unless only a comma stood before them (that comma joins the item above).
    assert [c for c, _ in out_comments] == [c for c, _ in in_comments]
    for (body, was_trailing), (_, is_trailing) in zip(in_comments, out_comments, strict=True):
        assert is_trailing == was_trailing or body_after_comma(text, body), body
    assert format_source(out) == out, "not idempotent"
    assert "\r" not in out and not out.startswith("\ufeff")
    assert out == "" or (out.endswith("\n") and not out.endswith("\n\n"))
    assert "\n\n\n" not in out or '"""' in out
    return out


def body_after_comma(text: str, body: str) -> bool:
    line = next(ln for ln in text.replace("\r", "\n").split("\n") if ln.rstrip().endswith(body))
    return line[: line.index(body)].strip() == ","


def golden(*lines: str) -> str:
    return "\n".join(lines) + "\n"


GOLDEN = {
    "a check: common fields and checker arguments aligned alike": (
        'constlang 1\ncheck no_phone {checker=regex pattern="\\\\d{3}"\nexpect=no_match '
        'applies_to=["pii","harmful"]  weight=2 }\n',
        golden("constlang 1",
               "",
               "check no_phone {",
               "  checker    = regex",
               '  pattern    = "\\\\d{3}"',
               "  expect     = no_match",
               '  applies_to = ["pii", "harmful"]',
               "  weight     = 2",
               "}"),
    ),
    "one field a line, = aligned, short bodies multi-line": (
        'constlang 1\nmodel assistant { source = "embedded:smollm2-135m-instruct"  '
        "max_new_tokens = 128 }\ndataset red_team { path = \"data/red_team.jsonl\" }\n",
        golden("constlang 1",
               "",
               "model assistant {",
               '  source         = "embedded:smollm2-135m-instruct"',
               "  max_new_tokens = 128",
               "}",
               "",
               "dataset red_team {",
               '  path = "data/red_team.jsonl"',
               "}"),
    ),
    "blank lines: one between declarations, runs collapsed, none at the edges": (
        "\n\nconstlang 1\nprinciple a {\n\n  x = 1\n\n\n\n  y = 2\n\n}\nprinciple b {}\n\n\n",
        golden("constlang 1", "", "principle a {", "  x = 1", "", "  y = 2", "}", "",
               "principle b {}"),
    ),
    "imports and drops may stay grouped": (
        'import "a.const"\nimport "b.const"\n\n\nimport "c.const"\ndrop principle x\n'
        "drop template y\nstage s {}",
        golden('import "a.const"', 'import "b.const"', "", 'import "c.const"', "",
               "drop principle x", "drop template y", "", "stage s {}"),
    ),
    "override and drop kept; empty bodies": (
        "override   principle harmful{weight=2.0}\noverride template t ( a ,b , ) \"x\"\n"
        "question q {\n\n}",
        golden("override principle harmful {", "  weight = 2.0", "}", "",
               'override template t(a, b) "x"', "", "question q {}"),
    ),
    "numbers and strings as written": (
        'example e { a = 1.50 b = 1e3 c = -.5 d = 007 e = "tab\\there \\"q\\" \\u00e9" '
        "f = true g = false h = all }",
        golden("example e {", "  a = 1.50", "  b = 1e3", "  c = -.5", "  d = 007",
               '  e = "tab\\there \\"q\\" \\u00e9"', "  f = true", "  g = false",
               "  h = all", "}"),
    ),
    "triple-quoted strings kept verbatim": (
        'constitution "c" { description = """\n      Two\n        lines.\n   """ }\n'
        'template t(x) """\n{{ x }}  \n"""',
        golden('constitution "c" {', '  description = """', "      Two", "        lines.",
               '   """', "}", "", 'template t(x) """', "{{ x }}  ", '"""'),
    ),
    "lists: one line when they fit, trailing comma dropped": (
        'principle p { tags = [ "a" ,"b", ] nested = [[1,2],[],[ [3] ]] }',
        golden("principle p {", '  tags   = ["a", "b"]', "  nested = [[1, 2], [], [[3]]]",
               "}"),
    ),
    "lists: one item a line with a trailing comma when they do not fit": (
        "principle p { tags = [" + ", ".join(f'"{c * 30}"' for c in "abc") + ", [1, 2]] }",
        golden("principle p {", "  tags = [", *(f'    "{c * 30}",' for c in "abc"),
               "    [1, 2],", "  ]", "}"),
    ),
    "template parameters split when too long": (
        "template t(" + ", ".join(n * 30 for n in "abc") + ') "x"',
        golden("template t(", *(f"  {n * 30}," for n in "abc"), ') "x"'),
    ),
    "comments before a declaration, with their blank lines": (
        "# header\n\n\nconstlang 1\n# about a\nprinciple a {}\n\n# loose note\n\n"
        "principle b {}",
        golden("# header", "", "constlang 1", "", "# about a", "principle a {}", "",
               "# loose note", "", "principle b {}"),
    ),
    "trailing comments stay trailing and align on adjacent lines": (
        "constlang 1 # v1\nstage s { revisions = 2 # rounds\n sampling = per_revision # how\n"
        "\n epochs = 1    # one\n} # end",
        golden("constlang 1  # v1", "", "stage s {",
               "  revisions = 2             # rounds",
               "  sampling  = per_revision  # how", "",
               "  epochs    = 1  # one",
               "}  # end"),
    ),
    "comments inside an empty body and at the end of a body": (
        "question q { # after brace\n}\nquestion r {\n    # only this\n}\n"
        "question s { text = \"t\"\n\n  # closing remark\n}\n",
        golden("question q {  # after brace", "}", "", "question r {", "  # only this", "}",
               "", "question s {", '  text = "t"', "", "  # closing remark", "}"),
    ),
    "comments between list items split the list": (
        'principle p { tags = [ # first\n "a", # a\n "b" # b\n , "c"\n # last\n] }',
        golden("principle p {", "  tags = [  # first", '    "a",  # a', '    "b",  # b',
               '    "c",', "    # last", "  ]", "}"),
    ),
    "comments inside a construct: own line before the next token": (
        "principle # odd\n  p { x = # here\n 1 y\n# own\n= 2 }",
        golden("principle  # odd", "  p {", "    x =  # here", "      1", "    y",
               "      # own", "      = 2", "  }"),
    ),
    "comments at the end of the file": (
        "principle p {}\n# bye\n\n\n# really\n",
        golden("principle p {}", "# bye", "", "# really"),
    ),
    "comment-only file": ("  # just this   \n\n", golden("# just this")),
    "empty file": ("\n \n", ""),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden(name: str) -> None:
    source, expected = GOLDEN[name]
    assert check(source) == expected


def test_crlf_and_bom() -> None:
    text = '\ufeffconstlang 1\r\n# note\r\nprinciple p { t = """\r\n  a\r\n  """ }\r\n'
    expected = golden("constlang 1", "", "# note", "principle p {", '  t = """', "  a",
                      '  """', "}")
    assert check(text) == expected
    assert check(text.replace("\r\n", "\r")) == expected


def test_list_width_limit_is_inclusive() -> None:
    prefix = "  tags = ["
    fits = '"' + "x" * (MAX_WIDTH - len(prefix) - 3) + '"'
    out = check(f"principle p {{ tags = [{fits}] }}")
    assert max(len(line) for line in out.splitlines()) == MAX_WIDTH
    longer = fits[:-1] + 'x"'
    assert check(f"principle p {{ tags = [{longer}] }}").count("\n") == 5


def test_shape_sees_a_change_of_meaning() -> None:
    assert parsed("stage s { a = 1.0 }")[0] != parsed("stage s { a = 1 }")[0]
    assert parsed('stage s { a = "x" }')[0] != parsed("stage s { a = x }")[0]


def test_unparsable_text_raises_with_diagnostics() -> None:
    with pytest.raises(FormatError) as info:
        format_source("principle p {\n  x = \n}\n", "bad.const")
    assert info.value.diagnostics and info.value.diagnostics[0].span is not None
    assert info.value.diagnostics[0].span.file == "bad.const"
    assert str(info.value).startswith("3:1: ")


def test_lists_nested_too_deep_are_refused_not_truncated() -> None:
    deep = "[" * 65 + "1" + "]" * 65
    with pytest.raises(FormatError, match="nested more than 64 deep"):
        format_source(f"stage s {{ x = {deep} }}")


def test_values_with_checker_errors_are_kept_as_written() -> None:
    text = 'stage s {\n  a = "bad \\q escape"\n  b = 1e999\n  c = ' + "9" * 5000 + "\n}\n"
    assert format_source(text) == text


def test_examples_in_the_docs_are_canonical() -> None:
    doc = (ROOT / "docs" / "fmt.md").read_text(encoding="utf-8")
    examples = re.findall(r"(?m)^ *```const\n(.*?)^ *```", doc, re.S)
    assert len(examples) >= 3
    for example in map(textwrap.dedent, examples):
        assert check(example) == example


def test_checks_golden_bodies_are_canonical() -> None:
    """Every `check` block of the checks golden is already in its canonical layout."""
    text = (ROOT / "tests/golden/valid/checks.const").read_text(encoding="utf-8")
    formatted = check(text)
    blocks = [b for b in text.split("\n\n") if b.startswith("check ")]
    assert len(blocks) == 6
    for block in blocks:
        assert block in formatted


@pytest.mark.parametrize("path", CORPUS, ids=[str(p.relative_to(ROOT)) for p in CORPUS])
def test_every_const_file(path: Path) -> None:
    check(path.read_text(encoding="utf-8"))


# -- generated constitutions -------------------------------------------------------------------

NAMES = st.sampled_from(["a", "harm", "tags", "max_new_tokens", "x_1", "Weight", "_p"])
KINDS = st.sampled_from(["principle", "question", "example", "model", "dataset", "stage",
                         "check"])
SHORT_STRINGS = st.one_of(
    st.sampled_from(['"hi"', '""', '"a \\"quoted\\" word"', '"tab\\t\\u00e9"', '"# no comment"']),
    st.text(alphabet="abc xyz", max_size=70).map(lambda s: f'"{s}"'),
)
LEAVES = st.one_of(
    SHORT_STRINGS,
    st.sampled_from(['"""inline"""', '"""\n    line one\n      line two\n    """',
                     '"""\nfirst\n\n  second"""', "0", "-2", "1.50", "1e3", ".5", "007",
                     "true", "false", "all", "per_revision"]),
).map(lambda tok: [tok])


def _list(items: list[list[str]], trailing_comma: bool) -> list[str]:
    tokens = ["["]
    for i, item in enumerate(items):
        tokens += ([","] if i else []) + item
    return tokens + ([","] if trailing_comma and items else []) + ["]"]


VALUES = st.recursive(
    LEAVES, lambda inner: st.builds(_list, st.lists(inner, max_size=6), st.booleans()),
    max_leaves=12)
FIELDS = st.lists(st.builds(lambda n, v: [n, "=", *v], NAMES, VALUES), max_size=5).map(
    lambda fields: ["{", *(t for f in fields for t in f), "}"])


@st.composite
def items(draw: st.DrawFn) -> list[str]:
    override = ["override"] if draw(st.booleans()) else []
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return ["constitution", draw(SHORT_STRINGS), *draw(FIELDS)]
    if choice == 1:
        return ["import", '"std/prelude.const"']
    if choice == 2:
        return ["drop", draw(st.one_of(KINDS, st.just("template"))), draw(NAMES)]
    if choice == 3:
        params = draw(st.lists(st.sampled_from(["prompt", "response", "p" * 40]), max_size=4))
        tokens = [*override, "template", draw(NAMES), "("]
        for i, p in enumerate(params):
            tokens += ([","] if i else []) + [p]
        body = draw(st.sampled_from(['"""\n{{ prompt }}\n"""', '"x"']))
        trailing_comma = draw(st.booleans()) and bool(params)
        return tokens + ([","] if trailing_comma else []) + [")", body]
    return [*override, draw(KINDS), draw(NAMES), *draw(FIELDS)]


MODULES = st.builds(lambda header, body: header + [t for item in body for t in item],
                    st.sampled_from([[], ["constlang", "1"]]), st.lists(items(), max_size=5))
PLAIN_GAPS = [" ", "\n", "\t ", "  \n  "]
GAPS = PLAIN_GAPS + ["\n\n\n", " # c\n", "\n  # c\n", "\n\n# c\n\n"]


@st.composite
def sources(draw: st.DrawFn) -> str:
    """A random valid file: generated tokens joined by whitespace, blank lines and comments."""
    tokens = draw(MODULES)
    gaps = draw(st.lists(st.sampled_from(GAPS), min_size=len(tokens) + 1,
                         max_size=len(tokens) + 1))
    parts = [gaps[0]]
    for token, gap in zip(tokens, gaps[1:], strict=True):
        parts += [token, gap]
    text = "".join(parts)
    count = 0
    while " c\n" in text:  # number the comments, so that order and loss are visible
        count += 1
        text = text.replace(" c\n", f" c{count} [x] = {{\n", 1)
    if draw(st.booleans()):
        text += "# at the very end, with no newline"
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return ("\ufeff" if draw(st.booleans()) else "") + text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources())
def test_generated_files_keep_meaning_and_comments(text: str) -> None:
    check(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MODULES, st.data())
def test_layout_does_not_depend_on_the_input_layout(tokens: list[str], data: st.DataObject
                                                    ) -> None:
    def spaced() -> str:
        gaps = data.draw(st.lists(st.sampled_from(PLAIN_GAPS), min_size=len(tokens),
                                  max_size=len(tokens)))
        return "".join(t + g for t, g in zip(tokens, gaps, strict=True))

    assert format_source(spaced()) == format_source(spaced())


@pytest.mark.parametrize("path", [p for p in CORPUS if p.parent.name == "constitutions"],
                         ids=lambda p: p.name)
def test_formatting_keeps_the_plan_hash(path: Path, tmp_path: Path) -> None:
    """The compiled plan of a formatted file has the same hash as the original's."""
    from constlang.compile import compile_path

    original = compile_path(path)
    assert original.plan is not None, original.diagnostics
    # Whitespace outside strings only: field lines re-spaced, extra blank lines between blocks.
    messy = re.sub(r"(?m)^(\s*)(\w+) += ", r"\1\2   =  ", path.read_text("utf-8"))
    messy = re.sub(r"(?m)^(principle|question|example|stage) ", r"\n\n\1 ", messy)
    assert messy != path.read_text("utf-8")
    formatted = format_source(messy, str(path))
    reformatted = compile_path(path, text=formatted)
    assert reformatted.plan is not None, reformatted.diagnostics
    assert reformatted.plan.hash == original.plan.hash
    assert compile_path(path, text=messy).plan.hash == original.plan.hash
