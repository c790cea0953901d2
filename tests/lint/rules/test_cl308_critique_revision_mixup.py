"""CL308 critique-revision-mixup."""

from ..helpers import findings, line_of


def test_swapped_requests_are_flagged(tmp_path):
    body = '''
principle harmful {
  critique = "Rewrite the reply so that it is harmless."
  revision = "Is the reply harmful?"
}
'''
    found = findings(tmp_path, body, "CL308")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(body, "Rewrite"), "the critique request of principle `harmful` asks for a "
         "rewrite"),
        (line_of(body, "Is the reply"), "the revision request of principle `harmful` asks for "
         "a critique")]


def test_well_placed_requests_are_not_flagged(tmp_path):
    body = '''
principle harmful {
  critique = "Is the reply harmful? Point out each harmful part."
  revision = "Rewrite the reply so that it is harmless."
}
principle warm {
  critique = "Does the reply respond coldly to someone who is struggling?"
  revision = "Respond with warmth and without judgement."
}
'''
    assert findings(tmp_path, body, "CL308") == []
