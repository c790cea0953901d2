"""CL303 duplicate-question."""

from ..helpers import PIPELINE, PRINCIPLE, findings, line_of

FEEDBACK = "stage feedback { policy = sft  judge = assistant  prompts = prompts }\n"


def test_duplicate_question_text_is_flagged(tmp_path):
    body = PRINCIPLE + '''
question less_harmful { text = "Which reply is less harmful?" }
question safer        { text = "Which reply is less harmful ?" }
''' + PIPELINE + FEEDBACK
    found = findings(tmp_path, body, "CL303")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(body, "question safer"),
         "question `safer` has the same `text` as `less_harmful`")]


def test_different_questions_are_not_flagged(tmp_path):
    body = PRINCIPLE + '''
question less_harmful { text = "Which reply is less harmful?" }
question more_honest  { text = "Which reply is more honest about what it knows?" }
''' + PIPELINE + FEEDBACK
    assert findings(tmp_path, body, "CL303") == []
