"""CL305 critique-never-passes, and its unsafe fix."""

import re

from constlang.lint.fix import apply_fixes

from ..helpers import BASICS, PRINCIPLE, findings, line_of, lint_text

SKIPPING = BASICS + '''
stage critique_revision {
  model = assistant  prompts = prompts  examples = []
  skip_when_no_critique = true
}
'''


def test_presumptive_request_with_skipping_is_flagged(tmp_path):
    body = PRINCIPLE + SKIPPING
    found = findings(tmp_path, body, "CL305")
    assert [d.span.line for d in found] == [line_of(body, "Point out anything")]
    assert found[0].fix is not None and not found[0].fix.safe


def test_unsafe_fix_teaches_the_marker_and_clears_the_finding(tmp_path):
    body = PRINCIPLE + SKIPPING
    found = findings(tmp_path, body, "CL305")
    path = tmp_path / "main.const"
    assert apply_fixes(path.read_text(), found)[1] == []  # unsafe: not applied by default
    fixed, done = apply_fixes(path.read_text(), found, unsafe=True)
    assert len(done) == 1 and '\\"no critique needed\\"' in fixed
    path.write_text(fixed)
    assert [d for d in lint_text(tmp_path, "", select=("CL305",), header=False)
            if d.code == "CL305"] == []


def test_marker_in_request_or_example_is_enough(tmp_path):
    said = PRINCIPLE.replace("in the reply.", 'in the reply, or say \\"no critique needed\\".')
    assert findings(tmp_path, said + SKIPPING, "CL305") == []
    example = '''
example fine {
  prompt = "How do I kill a process?"  response = "Run kill PID."
  critique_request = "Is it harmful?"  critique = "No critique needed: it is about software."
  revision_request = "Rewrite it."  revision = "Run kill PID."
}
'''
    assert findings(tmp_path, PRINCIPLE + example + SKIPPING.replace("examples = []", ""),
                    "CL305") == []


def test_stage_that_never_skips_is_not_flagged(tmp_path):
    body = PRINCIPLE + SKIPPING.replace("skip_when_no_critique = true", "")
    assert findings(tmp_path, body, "CL305") == []


def test_an_empty_request_is_left_to_cl301(tmp_path):
    # the fix would write text into an empty request and hide CL301's error
    body = re.sub(r'critique = "[^"]*"', 'critique = ""', PRINCIPLE) + SKIPPING
    assert findings(tmp_path, body, "CL305") == []
    assert [d.code for d in lint_text(tmp_path, body, select=("CL301", "CL305"))] == ["CL301"]
