"""The engine: one compile per file, findings only in the linted file, never in std/."""

from __future__ import annotations

from unittest import mock

from constlang.lint import engine
from constlang.lint.config import LintConfig
from constlang.lint.engine import lint_file, lint_paths

from .helpers import HEADER, PIPELINE, PRINCIPLE, project

BASE = HEADER + PRINCIPLE + PIPELINE + '''
principle lecturing {
  critique = "Is the reply preachy?"
  revision = "Lecture the user about safety."
}
'''


def test_findings_are_reported_in_the_linted_file_only(tmp_path):
    child = ('constlang 1\nconstitution "child" { version = "0.1.0" }\n'
             'import "./base.const"\n'
             'override principle lecturing { weight = 0.001 }\n')
    project(tmp_path, {"base.const": BASE, "child.const": child})
    config = LintConfig(root=tmp_path)
    child_codes = {d.code for d in lint_file(tmp_path / "child.const", config).diagnostics}
    base_codes = {d.code for d in lint_file(tmp_path / "base.const", config).diagnostics}
    assert "CL304" in base_codes and "CL304" not in child_codes  # the text lives in base
    assert "CL202" in child_codes  # the weight was set by the override in child


def test_std_declarations_are_never_reported(tmp_path):
    body = HEADER + 'import "std/helpful.const"\n' + PIPELINE
    project(tmp_path, {"a.const": body})
    assert lint_file(tmp_path / "a.const", LintConfig(root=tmp_path)).diagnostics == []


def test_each_file_is_compiled_once(tmp_path):
    project(tmp_path, {"a.const": BASE, "b.const": HEADER + PRINCIPLE + PIPELINE})
    with mock.patch.object(engine, "compile_path", wraps=engine.compile_path) as spy:
        report = lint_paths([tmp_path / "a.const", tmp_path / "b.const"],
                            LintConfig(root=tmp_path))
    assert spy.call_count == 2
    assert {f.display.rsplit("/", 1)[-1] for f in report.files} == {"a.const", "b.const"}


def test_imported_compiler_errors_are_reported_once_for_a_folder(tmp_path):
    project(tmp_path, {"lib.const": 'constlang 1\nprinciple p { critique = "x" }\n',
                       "a.const": HEADER + 'import "./lib.const"\n'})
    report = lint_paths([tmp_path / "a.const", tmp_path / "lib.const"], LintConfig())
    assert [d.code for d in report.diagnostics] == ["E104"]
