"""CL306 positional-question."""

import pytest

from ..helpers import findings, line_of


@pytest.mark.parametrize("text", [
    "Is the first response more helpful than the second response?",
    "Which is better, Response A or Response B?",
    "Answer (A) if the reply is safer.",
    "Is the latter less harmful?",
])
def test_question_naming_a_position_is_flagged(tmp_path, text):
    body = f'question q {{ text = "{text}" }}\n'
    found = findings(tmp_path, body, "CL306")
    assert [d.span.line for d in found] == [line_of(body, "question q")]


def test_pointwise_questions_are_not_about_positions(tmp_path):
    body = ('question q { text = "Is the first sentence of the reply rude?"  kind = pointwise\n'
            '  good_answer = "No" }\n')
    assert findings(tmp_path, body, "CL306") == []


def test_question_by_quality_is_not_flagged(tmp_path):
    assert findings(tmp_path, 'question q { text = "Which response is more helpful?" }\n',
                    "CL306") == []
