"""CL401 soft-labels-discarded, and its unsafe fix."""

from constlang.lint.fix import apply_fixes

from ..helpers import PIPELINE, PRINCIPLE, QUESTION, findings, line_of

STAGES = '''
stage feedback { policy = sft  judge = assistant  prompts = prompts  labels = LABELS }
stage reward_model { from = feedback  soft_labels = false }
'''


def test_soft_labels_trained_as_hard_pairs_are_flagged(tmp_path):
    body = PRINCIPLE + QUESTION + PIPELINE + STAGES.replace("LABELS", "soft")
    found = findings(tmp_path, body, "CL401")
    assert [d.span.line for d in found] == [line_of(body, "soft_labels = false")]
    fixed, done = apply_fixes((tmp_path / "main.const").read_text(), found, unsafe=True)
    assert "soft_labels = true" in fixed and len(done) == 1


def test_hard_labels_or_soft_training_are_not_flagged(tmp_path):
    body = PRINCIPLE + QUESTION + PIPELINE + STAGES.replace("LABELS", "hard")
    assert findings(tmp_path, body, "CL401") == []
    body = PRINCIPLE + QUESTION + PIPELINE + STAGES.replace("LABELS", "soft").replace(
        "soft_labels = false", "soft_labels = true")
    assert findings(tmp_path, body, "CL401") == []
