"""CL601 name-case."""

from ..helpers import findings, line_of


def test_camel_case_names_are_flagged(tmp_path):
    body = '''
principle NoHarm { critique = "Is it harmful?"  revision = "Rewrite it." }
template myTemplate(userPrompt) """
{{ userPrompt }}
"""
'''
    found = findings(tmp_path, body, "CL601")
    assert [(d.span.line, d.message, d.help) for d in found] == [
        (line_of(body, "NoHarm"), "principle name `NoHarm` is not snake_case",
         "rename it `no_harm` (and every reference to it)"),
        (line_of(body, "myTemplate"), "template name `myTemplate` is not snake_case",
         "rename it `my_template` (and every reference to it)"),
        (line_of(body, "myTemplate"), "parameter `userPrompt` of template `myTemplate` is not "
         "snake_case", "rename it `user_prompt`")]


def test_snake_case_names_are_fine(tmp_path):
    body = 'principle no_harm_2 { critique = "Is it harmful?"  revision = "Rewrite it." }\n'
    assert findings(tmp_path, body, "CL601") == []
