"""CL701 unmatched-check-scope."""

from constlang.lint.fix import apply_fixes

from ..helpers import HEADER, findings, line_of

STAGES = '''
model m { source = "embedded:smollm2-135m-instruct" }
principle harmful { critique = "Is it harmful?"  revision = "Rewrite it."  checks = [declines] }
stage critique_revision { model = m  prompts = d }
'''


def body(applies_to: str, dataset_tags: str) -> str:
    return (f'check declines {{ checker = refusal  expect = decline  applies_to = {applies_to} }}\n'
            f'dataset d {{ path = "prompts.jsonl"  {dataset_tags} }}\n' + STAGES)


def test_a_misspelt_tag_is_flagged_with_a_fix(tmp_path):
    text = body('["harmfull"]', 'tags = ["harmful", "benign"]')
    (found,) = findings(tmp_path, text, "CL701")
    assert found.span.line == line_of(text, "check declines")
    assert found.message == ('check `declines` applies to tag "harmfull", which no dataset '
                             "declares")
    assert found.help.startswith('did you mean "harmful"?')
    assert found.fix is not None and not found.fix.safe
    fixed, _ = apply_fixes(HEADER + text, [found], unsafe=True)
    assert 'applies_to = ["harmful"]' in fixed


def test_declared_tags_are_not_flagged(tmp_path):
    assert findings(tmp_path, body('["harmful"]', 'tags = ["harmful"]'), "CL701") == []


def test_quiet_when_a_dataset_declares_no_tags(tmp_path):
    # its rows may carry their own tags, which lint does not read
    assert findings(tmp_path, body('["harmfull"]', ''), "CL701") == []
