"""Configuration: pyproject.toml and constlang.toml, selection, severity, per-file ignores."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from constlang.cli import cli
from constlang.errors import Severity
from constlang.lint.config import (
    ConfigError,
    LintConfig,
    enabled_rules,
    find_config,
    load_config,
    severity_of,
)
from constlang.lint.registry import BY_CODE, RULES

from .helpers import HEADER, PIPELINE, PRINCIPLE, project

EVASIVE = PRINCIPLE.replace("Rewrite the reply without the harm, and keep helping with the rest.",
                            "Refuse the request.")


def codes(rules):
    return [r.code for r in rules]


def test_defaults_select_every_default_rule():
    assert codes(enabled_rules(LintConfig(), RULES)) == [r.code for r in RULES if r.default]


def test_select_extend_select_and_ignore():
    cfg = LintConfig(select=("CL3",), extend_select=("feedback", "CL101"),
                     ignore=("CL304", "asymmetric-clamp"))
    expected = [r.code for r in RULES if r.category in ("prompts", "feedback")
                and r.code not in ("CL304", "CL403")]
    assert codes(enabled_rules(cfg, RULES)) == ["CL101", *expected]
    assert codes(enabled_rules(LintConfig(select=("ALL",)), RULES)) == codes(RULES)


def test_severity_most_specific_selector_wins():
    cfg = LintConfig(severity={"prompts": Severity.INFO, "CL30": Severity.ERROR,
                               "evasive-revision": Severity.WARNING})
    assert severity_of(BY_CODE["CL304"], cfg, RULES) is Severity.WARNING
    assert severity_of(BY_CODE["CL302"], cfg, RULES) is Severity.ERROR
    assert severity_of(BY_CODE["CL311"], cfg, RULES) is Severity.INFO


def test_pyproject_section_is_read(tmp_path):
    project(tmp_path, marker=False, files={"pyproject.toml": '''
[tool.constlang.lint]
ignore = ["CL601"]
fail-level = "error"
[tool.constlang.lint.severity]
CL304 = "error"
[tool.constlang.lint.per-file-ignores]
"legacy/*.const" = ["evasive-revision"]
'''})
    (tmp_path / "legacy").mkdir()
    assert find_config(tmp_path / "legacy") == tmp_path / "pyproject.toml"
    cfg = load_config(tmp_path / "pyproject.toml")
    assert cfg.ignore == ("CL601",) and cfg.fail_level is Severity.ERROR
    assert cfg.severity == {"CL304": Severity.ERROR}
    assert cfg.ignored_for(tmp_path / "legacy" / "a.const") == ("evasive-revision",)
    assert cfg.ignored_for(tmp_path / "a.const") == ()


def test_constlang_toml_wins_and_uses_a_lint_table(tmp_path):
    project(tmp_path, {"pyproject.toml": '[tool.constlang.lint]\nignore = ["CL101"]\n'})
    (tmp_path / "constlang.toml").write_text('[lint]\nselect = ["CL3"]\n')
    cfg = load_config(find_config(tmp_path))
    assert cfg.select == ("CL3",) and cfg.ignore == ()


@pytest.mark.parametrize(("text", "message"), [
    ('[tool.constlang.lint]\nselekt = ["CL1"]\n', "unknown key `selekt` (did you mean `select`?)"),
    ('[tool.constlang]\nselect = ["CL1"]\n', "`select` belongs in [tool.constlang.lint]"),
    ('[tool.constlang.lint]\nfail-level = "fatal"\n', "expected one of error, warning, info"),
    ('[tool.constlang.lint]\nselect = "CL1"\n', "`select` must be a list of strings"),
    ("[tool.constlang.lint\n", "invalid TOML"),
])
def test_invalid_config_is_reported(tmp_path, text, message):
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(tmp_path / "pyproject.toml")


def test_pyproject_spelling_in_constlang_toml_is_an_error(tmp_path):
    (tmp_path / "constlang.toml").write_text('[tool.constlang.lint]\nignore = ["CL5"]\n')
    with pytest.raises(ConfigError, match=re.escape("takes the settings under [lint]")):
        load_config(tmp_path / "constlang.toml")


def test_cli_applies_config_and_exits_2_on_a_bad_one(tmp_path, monkeypatch):
    project(tmp_path, marker=False, files={"a.const": HEADER + EVASIVE + PIPELINE,
                       "pyproject.toml": "[tool.constlang.lint]\n"
                       '[tool.constlang.lint.severity]\nCL304 = "info"\n'})
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["lint", "a.const", "--output-format", "concise"])
    assert result.exit_code == 0 and "CL304 info:" in result.stdout
    assert runner.invoke(cli, ["lint", "a.const", "--isolated"]).exit_code == 1
    (tmp_path / "constlang.toml").write_text('[lint]\nignore = ["CL9999"]\n')
    bad = runner.invoke(cli, ["lint", "a.const"])
    assert bad.exit_code == 2 and "`CL9999` matches no rule" in bad.output


def test_per_file_ignores_and_exclude_through_the_cli(tmp_path, monkeypatch):
    project(tmp_path, {"constlang.toml": '[lint]\nexclude = ["skip.const"]\n'
                       '[lint.per-file-ignores]\n"b.const" = ["CL304"]\n',
                       "b.const": HEADER + EVASIVE + PIPELINE,
                       "skip.const": HEADER + EVASIVE + PIPELINE})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["lint", "."])
    assert result.exit_code == 0 and "(1 file)" in result.stdout


def test_compiler_warnings_can_be_ignored(tmp_path, monkeypatch):
    project(tmp_path, {"old.const": 'principle p { critique = "Harm?"  revision = "Fix." }\n'})
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert "W001" in runner.invoke(cli, ["lint", "old.const"]).stdout
    assert runner.invoke(cli, ["lint", "old.const", "--ignore", "W001"]).exit_code == 0
