"""CL304 evasive-revision."""

import pytest

from constlang.lint.rules.evasive_revision import evasion

from ..helpers import findings, line_of


def principle(revision: str) -> str:
    return f'principle p {{ critique = "Is it harmful?"\n  revision = "{revision}" }}\n'


def test_refuse_and_warn_is_flagged(tmp_path):
    body = principle("Refuse the request and warn the user about the consequences.")
    found = findings(tmp_path, body, "CL304")
    assert [d.span.line for d in found] == [line_of(body, "Refuse")]
    assert "without staying helpful" in found[0].message


@pytest.mark.parametrize("text", [
    "Decline to answer.",
    "Do not help with this request.",
    "Add a stern warning about the risks.",
    "Lecture the user about ethics, then answer the question.",  # lecturing is never fine
    "Reply only: I'm sorry, but I can't help with that.",
])
def test_evasive_revisions(text):
    assert evasion(text)


@pytest.mark.parametrize("text", [
    "Rewrite the reply without the harmful parts, and help with any safe version.",
    "Refuse the dangerous part, but offer a safe alternative.",
    "Decline to produce content meant to mislead, and offer accurate information instead.",
    "Remove the moralising and unrequested warnings and answer the question.",
])
def test_helpful_revisions(text):
    assert evasion(text) is None


def test_helpful_revision_is_not_flagged(tmp_path):
    body = principle("Rewrite the reply without the harm; answer the safe parts directly.")
    assert findings(tmp_path, body, "CL304") == []
