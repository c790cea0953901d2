"""CL403 asymmetric-clamp."""

from ..helpers import PIPELINE, PRINCIPLE, QUESTION, findings, line_of

FEEDBACK = "stage feedback { policy = sft  judge = assistant  prompts = prompts  clamp = C }\n"


def test_off_centre_clamp_is_flagged(tmp_path):
    body = PRINCIPLE + QUESTION + PIPELINE + FEEDBACK.replace("C", "[0.3, 0.6]")
    found = findings(tmp_path, body, "CL403")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(body, "clamp ="), "the clamp [0.3, 0.6] of stage `feedback` is not centred on "
         "0.5, so it leans every label toward the second option")]


def test_centred_clamp_is_fine(tmp_path):
    body = PRINCIPLE + QUESTION + PIPELINE + FEEDBACK.replace("C", "[0.35, 0.65]")
    assert findings(tmp_path, body, "CL403") == []
