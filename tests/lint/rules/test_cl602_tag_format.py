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


def test_no_fix_that_would_duplicate_a_tag(tmp_path):
    body = BODY.replace('"Harm", "anti preachy", "ok"', '"Harm", "harm"')
    found = findings(tmp_path, body, "CL602")
    assert [d.message for d in found] == [
        'tag "Harm" of principle `p` is not lower-case kebab-case']
    assert found[0].fix is None  # "harm" is already there: renaming would duplicate it
