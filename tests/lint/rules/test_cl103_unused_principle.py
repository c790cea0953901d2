"""CL103 unused-principle."""

from ..helpers import PIPELINE, PRINCIPLE, findings, line_of

OTHER = '''
principle privacy {
  critique = "Does the reply expose private information?"
  revision = "Rewrite the reply so it protects privacy and still helps."
}
'''


def test_principle_outside_every_selection_is_flagged(tmp_path):
    body = PRINCIPLE + OTHER + PIPELINE.replace("prompts = prompts }",
                                                "prompts = prompts  principles = [harmful] }")
    found = findings(tmp_path, body, "CL103")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(body, "privacy {"), "principle `privacy` is not selected by any stage")]


def test_principles_all_selects_every_principle(tmp_path):
    assert findings(tmp_path, PRINCIPLE + OTHER + PIPELINE, "CL103") == []
