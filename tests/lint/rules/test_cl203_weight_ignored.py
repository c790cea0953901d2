"""CL203 weight-ignored."""

from ..helpers import PIPELINE, PRINCIPLE, findings, line_of

HEAVY = '''
principle evasive {
  critique = "Did the reply dodge the question?"
  revision = "Answer the safe parts directly."
  weight   = 2.0
}
'''


def test_weight_under_in_order_sampling_is_flagged(tmp_path):
    body = PRINCIPLE + HEAVY + PIPELINE.replace("prompts = prompts }",
                                                "prompts = prompts  sampling = in_order }")
    found = findings(tmp_path, body, "CL203")
    assert [d.span.line for d in found] == [line_of(body, "2.0")]


def test_weight_under_weighted_sampling_is_not_flagged(tmp_path):
    assert findings(tmp_path, PRINCIPLE + HEAVY + PIPELINE, "CL203") == []
