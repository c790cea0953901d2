"""CL106 unused-model."""

from ..helpers import PIPELINE, PRINCIPLE, findings, line_of

EXTRA = '\nmodel judge_7b { source = "Qwen/Qwen2.5-7B-Instruct" }\n'


def test_model_no_stage_uses_is_flagged(tmp_path):
    body = PRINCIPLE + EXTRA + PIPELINE
    found = findings(tmp_path, body, "CL106")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(body, "judge_7b"), "model `judge_7b` is not used by any stage")]


def test_model_used_as_sft_base_is_not_flagged(tmp_path):
    body = PRINCIPLE + EXTRA + PIPELINE.replace("from = critique_revision",
                                                "from = critique_revision  model = judge_7b")
    assert findings(tmp_path, body, "CL106") == []
