"""CL602 tag-format, and its unsafe fix."""

from constlang.lint.fix import apply_fixes

from ..helpers import findings

BODY = ('principle p { critique = "Harm?"  revision = "Fix."\n'
        '  tags = ["Harm", "anti preachy", "ok"] }\n')


def test_tags_that_are_not_kebab_case_are_flagged(tmp_path):
    found = findings(tmp_path, BODY, "CL602")
    assert [d.help for d in found] == ['write "harm"', 'write "anti-preachy"']
    fixed, done = apply_fixes((tmp_path / "main.const").read_text(), found, unsafe=True)
    assert 'tags = ["harm", "anti-preachy", "ok"]' in fixed and len(done) == 2


def test_kebab_case_tags_are_fine(tmp_path):
    assert findings(tmp_path, BODY.replace('"Harm", "anti preachy", ', ""), "CL602") == []
