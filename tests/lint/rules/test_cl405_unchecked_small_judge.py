"""CL405 unchecked-small-judge."""

from constlang.errors import Severity

from ..helpers import PIPELINE, PRINCIPLE, QUESTION, findings, line_of

FEEDBACK = "stage feedback { policy = sft  judge = assistant  prompts = prompts EXTRA }\n"
PAIRS = '\ndataset pairs { path = "pairs.jsonl" }\n'


def test_a_tiny_judge_nobody_checks_gets_a_note(tmp_path):
    body = PRINCIPLE + QUESTION + PIPELINE + FEEDBACK.replace("EXTRA", "")
    found = findings(tmp_path, body, "CL405")
    assert [(d.span.line, d.severity, d.message) for d in found] == [
        (line_of(body, "stage feedback"), Severity.INFO,
         "stage `feedback` trusts its 135M judge without a judge check")]


def test_a_check_without_a_gate_still_gets_a_note(tmp_path):
    body = PRINCIPLE + QUESTION + PAIRS + PIPELINE + \
        FEEDBACK.replace("EXTRA", "judge_check = pairs")
    assert [d.message for d in findings(tmp_path, body, "CL405")] == [
        "stage `feedback` trusts its 135M judge without a `min_judge_accuracy` gate"]


def test_a_checked_and_gated_judge_is_fine(tmp_path):
    body = PRINCIPLE + QUESTION + PAIRS + PIPELINE + \
        FEEDBACK.replace("EXTRA", "judge_check = pairs  min_judge_accuracy = 0.7")
    assert findings(tmp_path, body, "CL405") == []
