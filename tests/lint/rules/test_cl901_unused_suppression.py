"""CL901 unused-suppression, and its safe fix."""

from constlang.lint.fix import apply_fixes

from ..helpers import findings, line_of, lint_text

CLEAN = '''
principle harmful {  # constlang: ignore[CL304]
  critique = "Point out anything harmful."
  revision = "Rewrite the reply without the harm, and keep helping."
}
'''


def test_suppression_with_nothing_to_suppress_is_flagged_and_removed(tmp_path):
    found = findings(tmp_path, CLEAN, "CL901")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(CLEAN, "# constlang"), "suppression of CL304 suppresses nothing (not enabled)")]
    fixed, _ = apply_fixes((tmp_path / "main.const").read_text(), found)
    assert "principle harmful {\n  critique" in fixed


def test_only_the_unused_code_is_removed(tmp_path):
    body = CLEAN.replace("revision = \"Rewrite the reply without the harm, and keep helping.\"",
                         'revision = "Refuse."').replace("ignore[CL304]", "ignore[CL304, CL601]")
    diags = lint_text(tmp_path, body, select=("CL304", "CL901"))
    assert [d.code for d in diags] == ["CL901"]
    assert diags[0].message == "suppression of CL601 suppresses nothing (not enabled)"
    fixed, _ = apply_fixes((tmp_path / "main.const").read_text(), diags)
    assert "# constlang: ignore[CL304]\n" in fixed


def test_suppression_that_hides_a_finding_is_not_flagged(tmp_path):
    body = CLEAN.replace("Rewrite the reply without the harm, and keep helping.", "Refuse.")
    assert lint_text(tmp_path, body, select=("CL304", "CL901")) == []


def test_suppressions_of_rules_that_could_not_run_are_kept(tmp_path):
    # the file does not compile, so CL104 (which needs a plan) did not run: its suppression
    # may still be needed, and --fix must not delete it
    body = ('question kinder { text = "Which reply is kinder?" }  '
            "# constlang: ignore[CL104, CL601]\n"
            'principle broken { critique = "c"  revision = "r"  weight = "x" }\n')
    diags = lint_text(tmp_path, body, select=("CL104", "CL901"))
    assert [d.code for d in diags] == ["CL901", "E105"]  # in file order
    assert diags[0].message == "suppression of CL601 suppresses nothing (not enabled)"
    fixed, _ = apply_fixes((tmp_path / "main.const").read_text(), diags)
    assert "# constlang: ignore[CL104]\n" in fixed


def test_a_suppression_with_a_reason_is_removed_only_as_an_unsafe_fix(tmp_path):
    body = CLEAN.replace("ignore[CL304]", "ignore[CL304] the reviewers agreed")
    found = findings(tmp_path, body, "CL901")
    assert len(found) == 1 and found[0].fix is not None and not found[0].fix.safe
