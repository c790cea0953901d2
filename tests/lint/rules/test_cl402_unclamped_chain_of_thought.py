"""CL402 unclamped-chain-of-thought, and its unsafe fix."""

from constlang.lint.fix import apply_fixes

from ..helpers import PIPELINE, PRINCIPLE, QUESTION, findings, line_of, lint_text

FEEDBACK = '''
stage feedback {
  policy = sft  judge = assistant  prompts = prompts
  chain_of_thought = true
  CLAMP
}
'''


def test_missing_clamp_is_flagged_and_the_fix_adds_the_papers_range(tmp_path):
    body = PRINCIPLE + QUESTION + PIPELINE + FEEDBACK.replace("CLAMP", "# no clamp yet")
    found = findings(tmp_path, body, "CL402")
    assert [d.span.line for d in found] == [line_of(body, "chain_of_thought = true")]
    path = tmp_path / "main.const"
    fixed, _ = apply_fixes(path.read_text(), found, unsafe=True)
    assert "  chain_of_thought = true\n  clamp = [0.4, 0.6]\n  # no clamp yet\n" in fixed
    path.write_text(fixed)
    assert not [d for d in lint_text(tmp_path, "", select=("CL402",), header=False)
                if d.code == "CL402"]


def test_clamp_reaching_zero_or_one_is_flagged(tmp_path):
    body = PRINCIPLE + QUESTION + PIPELINE + FEEDBACK.replace("CLAMP", "clamp = [0.0, 1.0]")
    found = findings(tmp_path, body, "CL402")
    assert [d.span.line for d in found] == [line_of(body, "clamp = [0.0")]
    assert "not a proper sub-interval" in found[0].message


def test_proper_clamp_or_no_chain_of_thought_is_fine(tmp_path):
    body = PRINCIPLE + QUESTION + PIPELINE + FEEDBACK.replace("CLAMP", "clamp = [0.4, 0.6]")
    assert findings(tmp_path, body, "CL402") == []
    body = PRINCIPLE + QUESTION + PIPELINE + FEEDBACK.replace("chain_of_thought = true",
                                                              "").replace("CLAMP", "")
    assert findings(tmp_path, body, "CL402") == []
