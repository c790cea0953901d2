"""CL702 contradictory-checks."""

import pytest

from ..helpers import findings, line_of

STAGES = '''
model m { source = "embedded:smollm2-135m-instruct" }
dataset d { path = "prompts.jsonl"  tags = ["harmful", "benign"] }
principle harmful { critique = "Is it harmful?"  revision = "Rewrite it."  checks = [a, b] }
stage critique_revision { model = m  prompts = d }
'''


def pair(a: str, b: str) -> str:
    return f"check a {{ {a} }}\ncheck b {{ {b} }}\n" + STAGES


@pytest.mark.parametrize("a, b, why", [
    ('checker = refusal  expect = decline', 'checker = refusal  expect = comply',
     "`a` expects decline, `b` expects comply"),
    ('checker = refusal  expect = comply', 'checker = refusal  expect = redirect',
     "`a` expects comply, `b` expects redirect"),
    ('checker = phrases  phrases = ["Sorry", "thanks"]  expect = all',
     'checker = phrases  phrases = ["sorry"]  expect = none',
     "`a` needs the phrase 'Sorry', which `b` forbids"),
    ('checker = phrases  phrases = ["sorry"]  expect = any',
     'checker = phrases  phrases = ["sorry", "apologise"]  expect = none',
     "`a` needs one of 'sorry', which `b` forbids"),
    ('checker = regex  pattern = "\\\\d+"  expect = match',
     'checker = regex  pattern = "\\\\d+"  expect = no_match',
     "`a` must match the pattern `b` must not match"),
    ('checker = length  min = 200', 'checker = length  max = 100',
     "their words bounds do not overlap"),
])
def test_contradictions_are_flagged(tmp_path, a, b, why):
    text = pair(a, b)
    (found,) = findings(tmp_path, text, "CL702")
    assert found.span.line == line_of(text, "check b")
    assert found.message == (f"checks `a` and `b` contradict on every prompt: {why}, so no "
                             "reply can pass both")


@pytest.mark.parametrize("a, b", [
    ('checker = refusal  expect = decline', 'checker = refusal  expect = redirect'),
    ('checker = phrases  phrases = ["sorry", "thanks"]  expect = any',
     'checker = phrases  phrases = ["sorry"]  expect = none'),
    ('checker = phrases  phrases = ["sorry"]  expect = all  case_sensitive = false',
     'checker = phrases  phrases = ["sorry"]  expect = none  case_sensitive = true'),
    ('checker = regex  pattern = "a"  expect = match',
     'checker = regex  pattern = "b"  expect = no_match'),
    ('checker = regex  pattern = "a"  expect = match  ignore_case = true',
     'checker = regex  pattern = "a"  expect = no_match'),
    ('checker = length  min = 50', 'checker = length  max = 100'),
    ('checker = length  min = 200  unit = characters', 'checker = length  max = 100'),
])
def test_compatible_checks_are_not_flagged(tmp_path, a, b):
    assert findings(tmp_path, pair(a, b), "CL702") == []


def test_scopes_that_meet_are_named(tmp_path):
    text = pair('checker = refusal  expect = decline  applies_to = ["harmful"]',
                'checker = refusal  expect = comply')
    (found,) = findings(tmp_path, text, "CL702")
    assert 'contradict on prompts tagged "harmful"' in found.message


def test_checks_on_different_tags_are_not_flagged(tmp_path):
    text = pair('checker = refusal  expect = decline  applies_to = ["harmful"]',
                'checker = refusal  expect = comply  applies_to = ["benign"]')
    assert findings(tmp_path, text, "CL702") == []
