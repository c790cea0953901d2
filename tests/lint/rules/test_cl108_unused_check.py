"""CL108 unused-check."""

from ..helpers import PIPELINE, PRINCIPLE, QUESTION, findings, line_of

CHECKS = '''
check short { checker = length  max = 120 }
check polite { checker = phrases  phrases = ["idiot"]  expect = none }
'''


def test_check_nothing_uses_is_flagged(tmp_path):
    body = CHECKS + PRINCIPLE.replace('rest."\n', 'rest."\n  checks = [short]\n') + PIPELINE
    found = findings(tmp_path, body, "CL108")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(body, "polite {"),
         "check `polite` is not used by any principle, question or stage")]


def test_a_question_uses_a_check(tmp_path):
    body = CHECKS + PRINCIPLE.replace('rest."\n', 'rest."\n  checks = [short]\n') + \
        QUESTION.replace('less harmful?" }', 'less harmful?"  checks = [polite] }') + PIPELINE
    assert findings(tmp_path, body, "CL108") == []


def test_a_library_without_stages_is_not_flagged(tmp_path):
    assert findings(tmp_path, CHECKS, "CL108") == []
