"""CL603 duplicate-tag, and its safe fix."""

from constlang.lint.fix import apply_fixes

from ..helpers import findings

BODY = 'principle p { critique = "Harm?"  revision = "Fix."  tags = ["harm", "tone", "harm"] }\n'


def test_repeated_tag_is_flagged_and_removed(tmp_path):
    found = findings(tmp_path, BODY, "CL603")
    assert [d.message for d in found] == ['tag "harm" is listed twice on principle `p`']
    fixed, _ = apply_fixes((tmp_path / "main.const").read_text(), found)
    assert 'tags = ["harm", "tone"] }' in fixed


def test_distinct_tags_are_fine(tmp_path):
    assert findings(tmp_path, BODY.replace(', "harm"]', "]"), "CL603") == []
