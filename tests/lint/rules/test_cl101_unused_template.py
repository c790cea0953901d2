"""CL101 unused-template."""

from ..helpers import PIPELINE, PRINCIPLE, findings, line_of

TEMPLATE = '''
template my_critique(prompt, response, principle) """
{{ prompt }} {{ response }} {{ principle.critique }}
"""
'''


def test_template_no_stage_renders_is_flagged(tmp_path):
    body = PRINCIPLE + TEMPLATE + PIPELINE
    found = findings(tmp_path, body, "CL101")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(body, "my_critique"), "template `my_critique` is not used by any stage")]


def test_template_a_stage_names_is_not_flagged(tmp_path):
    body = PRINCIPLE + TEMPLATE + PIPELINE.replace(
        "prompts = prompts }", "prompts = prompts  critique_template = my_critique }")
    assert findings(tmp_path, body, "CL101") == []


def test_replacing_a_prelude_template_by_name_counts_as_use(tmp_path):
    body = PRINCIPLE + TEMPLATE.replace("my_critique", "critique_prompt") + PIPELINE
    assert findings(tmp_path, body, "CL101") == []


def test_a_library_file_without_stages_is_not_flagged(tmp_path):
    assert findings(tmp_path, TEMPLATE, "CL101") == []
