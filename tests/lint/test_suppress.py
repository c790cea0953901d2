"""Inline suppression comments: what they cover, and what they do not."""

from __future__ import annotations

from constlang.lint.suppress import scan_comments
from constlang.source import SourceFile

from .helpers import PIPELINE, lint_text

EVASIVE = '''
principle harmful {COMMENT
  critique = "Point out anything harmful."
  revision = "Refuse the request."
}
'''


def codes(tmp_path, body, select=("CL304", "CL901", "CL902")):
    return sorted(d.code for d in lint_text(tmp_path, body + PIPELINE, select=select))


def test_without_a_suppression_the_finding_is_reported(tmp_path):
    assert codes(tmp_path, EVASIVE.replace("COMMENT", "")) == ["CL304"]


def test_comment_on_the_declaration_line_covers_the_declaration(tmp_path):
    assert codes(tmp_path, EVASIVE.replace("COMMENT", "  # constlang: ignore[CL304]")) == []


def test_comment_on_the_line_before_covers_the_next_code_line(tmp_path):
    body = "\n# constlang: ignore[CL304] -- we study refusals\n# (a second comment line)\n" + \
        EVASIVE.replace("COMMENT", "").lstrip("\n")
    assert codes(tmp_path, body) == []


def test_comment_on_the_field_line_covers_that_field_only(tmp_path):
    ignored = '"Refuse the request."  # constlang: ignore[CL304]'
    body = EVASIVE.replace("COMMENT", "").replace('"Refuse the request."', ignored)
    assert codes(tmp_path, body) == []
    other = EVASIVE.replace("COMMENT", "").replace('"Point out anything harmful."',
                                                   '"Point out anything harmful."  # constlang: '
                                                   "ignore[CL304]")
    assert codes(tmp_path, other) == ["CL304", "CL901"]


def test_a_different_code_does_not_suppress(tmp_path):
    assert codes(tmp_path, EVASIVE.replace("COMMENT", "  # constlang: ignore[CL305]")) == [
        "CL304", "CL901"]


def test_file_wide_suppression(tmp_path):
    body = "# constlang: ignore-file[CL304]\n" + EVASIVE.replace("COMMENT", "")
    assert codes(tmp_path, body) == []


def test_compiler_warnings_can_be_suppressed_but_errors_cannot(tmp_path):
    warning = 'principle p { critique = "Harm?"  revision = "Fix." }  # constlang: ignore[W001]\n'
    assert [d.code for d in lint_text(tmp_path, warning, header=False)] == []
    error = 'principle p { critique = "Harm?" }  # constlang: ignore[E104]\n'
    assert sorted(d.code for d in lint_text(tmp_path, error, header=False)) == [
        "CL902", "E104", "W001"]


def test_a_hash_inside_a_string_is_not_a_comment():
    text = ('principle p { critique = "# constlang: ignore[CL304]"  # real\n'
            '  revision = """\n# not a comment either\n""" }\n')
    found = scan_comments(SourceFile("x.const", text))
    assert [(c.text, c.line, c.own_line) for c in found] == [("# real", 1, False)]


def test_scanned_comments_are_the_parsers_comment_tokens():
    from pathlib import Path

    from constlang.lint.suppress import comments_from_tokens
    from constlang.syntax.parser import parse

    root = Path(__file__).resolve().parents[2]
    paths = [*sorted((root / "constitutions").glob("*.const")),
             *sorted((root / "constlang" / "std").glob("*.const")),
             *sorted((root / "tests" / "lint" / "fixtures" / "project").glob("*.const"))]
    for path in paths:
        source = SourceFile(path.name, path.read_text())
        tree, tokens, _ = parse(source)
        if tree is None:
            continue
        assert scan_comments(source) == comments_from_tokens(source, tokens), path
