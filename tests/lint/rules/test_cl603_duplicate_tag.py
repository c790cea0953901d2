"""CL603 duplicate-tag, and its safe fix (the plan keeps each tag once, so its hash stays)."""

from constlang.compile import compile_path
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


def test_comments_between_the_items_stay(tmp_path):
    # the reported bug: the fix deleted everything from the previous item on
    body = BODY.replace('"tone", "harm"]', '"tone", # why tone\n  "harm"]')
    found = findings(tmp_path, body, "CL603")
    fixed, _ = apply_fixes((tmp_path / "main.const").read_text(), found)
    assert 'tags = ["harm", "tone" # why tone\n] }' in fixed


def test_a_repeat_before_a_comma_and_a_comment(tmp_path):
    body = BODY.replace('["harm", "tone", "harm"]', '["harm", "harm" # one\n, "tone"]')
    found = findings(tmp_path, body, "CL603")
    fixed, _ = apply_fixes((tmp_path / "main.const").read_text(), found)
    assert 'tags = ["harm",  # one\n"tone"] }' in fixed


def test_the_plan_holds_each_tag_once_so_the_fix_keeps_its_hash(tmp_path):
    findings(tmp_path, BODY, "CL603")
    plan = compile_path(tmp_path / "main.const").plan
    assert plan is not None and plan.principles[0].tags == ["harm", "tone"]
