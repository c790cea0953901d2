"""CL102 unused-example."""

from ..helpers import PIPELINE, PRINCIPLE, findings, line_of

EXAMPLE = '''
example wine {
  prompt = "How strong is wine?"  response = "Do not drink."
  critique_request = "Is it preachy?"  critique = "It lectures."
  revision_request = "Answer plainly."  revision = "About 13 %."
}
'''


def test_example_left_out_of_every_stage_is_flagged(tmp_path):
    body = PRINCIPLE + EXAMPLE + PIPELINE.replace("prompts = prompts }",
                                                  "prompts = prompts  examples = [] }")
    found = findings(tmp_path, body, "CL102")
    assert [d.span.line for d in found] == [line_of(body, "wine")]
    assert "example `wine`" in found[0].message


def test_example_selected_by_default_is_not_flagged(tmp_path):
    assert findings(tmp_path, PRINCIPLE + EXAMPLE + PIPELINE, "CL102") == []
