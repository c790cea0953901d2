"""CL311 padded-text, and its unsafe fix (the text reaches the prompt, so the plan changes)."""

from constlang.lint.fix import apply_fixes

from ..helpers import findings, line_of


def test_padded_request_is_flagged_and_trimmed(tmp_path):
    body = 'principle p {\n  critique = " Point out anything harmful.  "\n  revision = "x" }\n'
    found = findings(tmp_path, body, "CL311")
    assert [d.span.line for d in found] == [line_of(body, "Point out")]
    text = (tmp_path / "main.const").read_text()
    assert found[0].fix is not None and not found[0].fix.safe
    assert apply_fixes(text, found) == (text, [])  # not without --unsafe-fixes
    fixed, done = apply_fixes(text, found, unsafe=True)
    assert 'critique = "Point out anything harmful."' in fixed and len(done) == 1


def test_escaped_whitespace_is_flagged_but_not_fixed(tmp_path):
    found = findings(tmp_path, 'principle p { critique = "Harmful?\\n"  revision = "x" }\n',
                     "CL311")
    assert len(found) == 1 and found[0].fix is None


def test_trimmed_text_and_long_strings_are_not_flagged(tmp_path):
    body = 'principle p {\n  critique = "Harmful?"\n  revision = """\n    Rewrite it.\n  """\n}\n'
    assert findings(tmp_path, body, "CL311") == []
