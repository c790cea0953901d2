"""CL309 incomplete-example."""

from ..helpers import PIPELINE, PRINCIPLE, findings, line_of

HALF = '''
example wine {
  prompt   = "How strong is red wine?"
  response = "You should not drink."
  critique = "The reply lectures instead of answering."
}
'''


def test_example_without_revision_is_flagged(tmp_path):
    body = PRINCIPLE + HALF + PIPELINE
    found = findings(tmp_path, body, "CL309")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(body, "wine"), "example `wine` has no `critique_request`, `revision_request`, "
         "`revision`; the default prompts skip an example without `revision`")]


def test_complete_example_is_not_flagged(tmp_path):
    whole = HALF.replace("}", '''  critique_request = "Is the reply preachy?"
  revision_request = "Remove the moralising and answer."
  revision         = "Most red wines are 12-15 % alcohol."
}''')
    assert findings(tmp_path, PRINCIPLE + whole + PIPELINE, "CL309") == []


def test_example_no_critique_revision_stage_shows_is_not_flagged(tmp_path):
    body = PRINCIPLE + HALF + PIPELINE.replace("prompts = prompts }",
                                               "prompts = prompts  examples = [] }")
    assert findings(tmp_path, body, "CL309") == []
