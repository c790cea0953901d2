"""CL301 empty-text."""

from constlang.errors import Severity

from ..helpers import findings, line_of, lint_text


def test_whitespace_request_and_empty_question_are_errors(tmp_path):
    body = '''
principle harmful { critique = "   "  revision = "Rewrite the reply without harm." }
question q { text = "" }
template t(prompt) """
"""
'''
    found = findings(tmp_path, body, "CL301")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(body, '"   "'), "`critique` of principle `harmful` is only whitespace"),
        (line_of(body, 'text = ""'), "`text` of question `q` is empty"),
        (line_of(body, "template t"), "template `t` is empty")]
    assert {d.severity for d in found} == {Severity.ERROR}


def test_runs_on_a_file_that_does_not_compile(tmp_path):
    diags = lint_text(tmp_path, 'principle p { critique = ""  revision = "x"  nope = 1 }\n',
                      select=("CL301",))
    assert {d.code for d in diags} == {"E103", "CL301"}


def test_written_texts_are_not_flagged(tmp_path):
    body = 'principle harmful { critique = "Is it harmful?"  revision = "Rewrite it." }\n'
    assert findings(tmp_path, body, "CL301") == []
