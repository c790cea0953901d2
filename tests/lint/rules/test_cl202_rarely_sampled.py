"""CL202 rarely-sampled."""

from ..helpers import PIPELINE, PRINCIPLE, findings, line_of

RARE = '''
principle lecturing {
  critique = "Is the reply preachy?"
  revision = "Remove the sermon and keep helping."
  weight   = 0.001
}
'''


def test_weight_a_thousand_times_below_the_top_is_flagged(tmp_path):
    body = PRINCIPLE + RARE + PIPELINE
    found = findings(tmp_path, body, "CL202")
    assert [d.span.line for d in found] == [line_of(body, "0.001")]
    assert found[0].message.startswith("principle `lecturing` (weight 0.001) is drawn 1,000× "
                                       "less often than `harmful`")


def test_in_order_sampling_ignores_weights(tmp_path):
    body = PRINCIPLE + RARE + PIPELINE.replace("prompts = prompts }",
                                               "prompts = prompts  sampling = in_order }")
    assert findings(tmp_path, body, "CL202") == []


def test_weight_a_tenth_of_the_top_is_fine(tmp_path):
    assert findings(tmp_path, PRINCIPLE + RARE.replace("0.001", "0.1") + PIPELINE, "CL202") == []
