"""Inline suppression comments: what they cover, and what they do not."""

from __future__ import annotations

from constlang.errors import Diagnostics
from constlang.lint.suppress import comments_from_tokens
from constlang.semantics.resolve import resolve

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


def test_a_hash_inside_a_string_is_not_a_comment(tmp_path):
    text = ('principle p { critique = "# constlang: ignore[CL304]"  # real\n'
            '  revision = """\n# not a comment either\n""" }\n')
    entry = resolve(tmp_path / "x.const", Diagnostics(), text=text).entry
    assert entry is not None
    found = comments_from_tokens(entry.source, entry.comments)
    assert [(c.text, c.line, c.own_line) for c in found] == [("# real", 1, False)]


def test_a_directive_inside_a_string_suppresses_nothing(tmp_path):
    body = EVASIVE.replace('{COMMENT\n  critique = "Point out anything harmful."',
                           '{ critique = "Harm? # constlang: ignore[CL304]"')
    assert codes(tmp_path, body) == ["CL304"]


def test_every_loaded_module_keeps_its_comments(tmp_path):
    (tmp_path / "constlang.toml").write_text("")
    (tmp_path / "lib.const").write_text("constlang 1\n# in the library\n")
    main = tmp_path / "main.const"
    main.write_text('constlang 1\nimport "lib.const"  # the library\n')
    world = resolve(main, Diagnostics())
    kept = {name: [str(t) for t in m.comments] for name, m in world.modules.items()
            if not name.startswith("std/")}
    assert sorted(kept.values()) == [["# in the library"], ["# the library"]]
