"""CL310 template-drops-input."""

from ..helpers import PIPELINE, PRINCIPLE, findings, line_of

CRITIQUE = '''
template my_critique(prompt, response, principle) """
User: {{ prompt }}
Assistant: {{ response }}
TEXT
"""
'''
USING = PIPELINE.replace("prompts = prompts }",
                         "prompts = prompts  critique_template = my_critique }")


def test_critique_template_without_the_request_is_flagged(tmp_path):
    body = PRINCIPLE + CRITIQUE.replace("TEXT", "{{ principle.revision }}") + USING
    found = findings(tmp_path, body, "CL310")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(body, "my_critique("), "template `my_critique` of the critique step of stage "
         "`critique_revision` never shows `principle.critique`")]


def test_feedback_examples_no_template_shows_are_flagged(tmp_path):
    example = '''
example e { prompt = "p"  response = "r"  critique_request = "q"  critique = "c"
            revision_request = "s"  revision = "v" }
question q { text = "Which reply is less harmful?" }
'''
    body = PRINCIPLE + example + PIPELINE + \
        "stage feedback { policy = sft  judge = assistant  prompts = prompts  examples = [e] }\n"
    found = findings(tmp_path, body, "CL310")
    assert [d.message for d in found] == [
        "stage `feedback` selects examples, but none of its templates shows `examples`"]


def test_template_showing_the_request_or_the_whole_principle_is_fine(tmp_path):
    for text in ("{{ principle.critique }}", "{{ principle }}"):
        body = PRINCIPLE + CRITIQUE.replace("TEXT", text) + USING
        assert findings(tmp_path, body, "CL310") == []


REVISION = '''
template my_revision(PARAMS) """
User: {{ prompt }}
Assistant: {{ response }}
TEXT
{{ principle.revision }}
"""
'''
REVISING = PIPELINE.replace("prompts = prompts }",
                            "prompts = prompts  revision_template = my_revision }")


def test_a_revision_that_declares_the_critique_must_show_it(tmp_path):
    body = PRINCIPLE + REVISION.replace("PARAMS", "prompt, response, critique, principle") \
        .replace("TEXT", "Please improve it.") + REVISING
    found = findings(tmp_path, body, "CL310")
    assert [d.message for d in found] == [
        "template `my_revision` of the revise step of stage `critique_revision` never shows "
        "`critique`"]


def test_direct_revision_without_a_critique_is_fine(tmp_path):
    body = PRINCIPLE + REVISION.replace("PARAMS", "prompt, response, principle") \
        .replace("TEXT", "Please improve it.") + REVISING
    assert findings(tmp_path, body, "CL310") == []
