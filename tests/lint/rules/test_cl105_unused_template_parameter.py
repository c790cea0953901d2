"""CL105 unused-template-parameter, and its unsafe fix (the plan lists the parameters, and a
declared `examples` switches off few-shot turns)."""

from constlang.lint.fix import apply_fixes

from ..helpers import PIPELINE, PRINCIPLE, findings

TEMPLATE = '''
template respond_prompt(prompt, examples) """
{{ prompt }}
"""
'''


def test_unused_parameter_is_flagged_with_an_unsafe_fix(tmp_path):
    found = findings(tmp_path, PRINCIPLE + TEMPLATE + PIPELINE, "CL105")
    assert [d.message for d in found] == [
        "template `respond_prompt` declares `examples` but never uses it"]
    assert found[0].fix is not None and not found[0].fix.safe
    assert "few-shot chat turns" in (found[0].help or "")
    text = (tmp_path / "main.const").read_text()
    assert apply_fixes(text, found) == (text, [])  # a plain --fix leaves it
    fixed, done = apply_fixes(text, found, unsafe=True)
    assert "template respond_prompt(prompt) \"\"\"" in fixed and len(done) == 1


def test_first_of_several_parameters_is_removed_with_its_comma(tmp_path):
    body = PRINCIPLE + TEMPLATE.replace("(prompt, examples)", "(examples, prompt)") + PIPELINE
    found = findings(tmp_path, body, "CL105")
    fixed, _ = apply_fixes((tmp_path / "main.const").read_text(), found, unsafe=True)
    assert "template respond_prompt(prompt) \"\"\"" in fixed


def test_used_parameters_are_not_flagged(tmp_path):
    body = PRINCIPLE + TEMPLATE.replace("{{ prompt }}", "{{ prompt }}{{ examples|length }}")
    assert findings(tmp_path, body + PIPELINE, "CL105") == []


def test_removal_keeps_comments_between_parameters(tmp_path):
    body = PRINCIPLE + TEMPLATE.replace("(prompt, examples)", "(prompt, # shown\n  examples)") \
        + PIPELINE
    found = findings(tmp_path, body, "CL105")
    fixed, _ = apply_fixes((tmp_path / "main.const").read_text(), found, unsafe=True)
    assert "template respond_prompt(prompt # shown\n) \"\"\"" in fixed
