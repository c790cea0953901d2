"""CL405 pairwise-small-judge."""

from constlang.errors import Severity

from ..helpers import PIPELINE, PRINCIPLE, QUESTION, findings, line_of

FEEDBACK = "stage feedback { policy = sft  judge = assistant  prompts = prompts }\n"
PAIRWISE = '\nquestion less_harmful { text = "Which reply is less harmful?" }\n'


def test_tiny_judge_with_only_pairwise_questions_gets_a_note(tmp_path):
    body = PRINCIPLE + PAIRWISE + PIPELINE + FEEDBACK
    found = findings(tmp_path, body, "CL405")
    assert [(d.span.line, d.severity) for d in found] == [
        (line_of(body, "stage feedback"), Severity.INFO)]
    assert "135M judge only pairwise" in found[0].message


def test_a_pointwise_question_in_the_mix_is_enough(tmp_path):
    assert findings(tmp_path, PRINCIPLE + QUESTION + PIPELINE + FEEDBACK, "CL405") == []
