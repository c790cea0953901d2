"""CL104 unused-question."""

from ..helpers import BASICS, PIPELINE, PRINCIPLE, QUESTION, findings

FEEDBACK = '''
stage critique_revision { model = assistant  prompts = prompts }
stage sft { from = critique_revision }
stage feedback { policy = sft  judge = assistant  prompts = prompts  questions = QS }
'''


def test_question_without_a_feedback_stage_is_flagged(tmp_path):
    found = findings(tmp_path, PRINCIPLE + QUESTION + PIPELINE, "CL104")
    assert sorted(d.message for d in found) == [
        "question `is_harmful` is not asked by any stage",
        "question `less_harmful` is not asked by any stage"]


def test_question_left_out_of_the_feedback_stage_is_flagged(tmp_path):
    body = PRINCIPLE + QUESTION + BASICS + FEEDBACK.replace("QS", "[is_harmful]")
    assert [d.message for d in findings(tmp_path, body, "CL104")] == [
        "question `less_harmful` is not asked by any stage"]


def test_questions_asked_by_feedback_are_not_flagged(tmp_path):
    body = PRINCIPLE + QUESTION + BASICS + FEEDBACK.replace("QS", "all")
    assert findings(tmp_path, body, "CL104") == []
