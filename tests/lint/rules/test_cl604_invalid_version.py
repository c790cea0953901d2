"""CL604 invalid-version."""

from ..helpers import lint_text


def test_version_that_is_not_semver_is_flagged(tmp_path):
    found = lint_text(tmp_path, 'constlang 1\nconstitution "c" { version = "v2" }\n',
                      header=False, select=("CL604",))
    assert [(d.code, d.span.line) for d in found] == [("CL604", 2)]


def test_semver_versions_are_fine(tmp_path):
    for version in ("0.1.0", "2.0.0-rc.1", "1.2.3+build.5"):
        text = f'constlang 1\nconstitution "c" {{ version = "{version}" }}\n'
        assert lint_text(tmp_path, text, header=False, select=("CL604",)) == []
