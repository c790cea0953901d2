"""`constlang lint` and `constlang rule` from the command line: exit codes and options."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from constlang.cli import cli
from constlang.lint.registry import RULES

from .helpers import HEADER, PIPELINE, PRINCIPLE, project

EVASIVE = PRINCIPLE.replace("Rewrite the reply without the harm, and keep helping with the rest.",
                            "Refuse the request.")


def lint(tmp_path: Path, files: dict[str, str], *args: str):
    project(tmp_path, files)
    return CliRunner().invoke(cli, ["lint", *[str(tmp_path / f) for f in files], *args])


def test_clean_file_exits_0(tmp_path):
    result = lint(tmp_path, {"a.const": HEADER + PRINCIPLE + PIPELINE})
    assert result.exit_code == 0, result.output
    assert result.stdout == "All checks passed (1 file).\n"


def test_warning_exits_1_unless_the_fail_level_is_error(tmp_path):
    files = {"a.const": HEADER + EVASIVE + PIPELINE}
    assert lint(tmp_path, files).exit_code == 1
    assert lint(tmp_path, files, "--fail-level", "error").exit_code == 0


def test_info_findings_fail_only_at_fail_level_info(tmp_path):
    body = HEADER + PRINCIPLE + PIPELINE + (
        'question q { text = "Which reply is less harmful?" }\n'
        "stage feedback { policy = sft  judge = assistant  prompts = prompts }\n")
    assert lint(tmp_path, {"a.const": body}).exit_code == 0  # CL405 is a note
    assert lint(tmp_path, {"a.const": body}, "--fail-level", "info").exit_code == 1


def test_file_that_does_not_compile_reports_compiler_errors(tmp_path):
    result = lint(tmp_path, {"a.const": HEADER + 'principle p { critique = "x" }\n'},
                  "--output-format", "concise")
    assert result.exit_code == 1
    assert "E104 error: principle `p` is missing the required field `revision`" in result.stdout


def test_select_ignore_and_extend_select(tmp_path):
    files = {"a.const": HEADER + EVASIVE + PIPELINE}
    assert lint(tmp_path, files, "--ignore", "CL304").exit_code == 0
    assert lint(tmp_path, files, "--select", "CL1,naming").exit_code == 0
    assert lint(tmp_path, files, "--select", "CL1", "--extend-select", "evasive-revision"
                ).exit_code == 1


def test_unknown_rule_is_a_usage_error(tmp_path):
    result = lint(tmp_path, {"a.const": HEADER + PRINCIPLE}, "--select", "CL3O4")
    assert result.exit_code == 2
    assert "`CL3O4` matches no rule (did you mean `CL304`?)" in result.output


def test_missing_path_and_empty_folder_are_usage_errors(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(cli, ["lint", "--isolated", str(tmp_path / "nope.const")])
    assert missing.exit_code == 2
    assert f"path `{tmp_path / 'nope.const'}` does not exist" in missing.output
    empty = runner.invoke(cli, ["lint", "--isolated", str(tmp_path)])
    assert empty.exit_code == 2 and f"no .const files found in {tmp_path}" in empty.output


def test_fix_without_anything_fixable_and_bad_flag_combinations(tmp_path):
    files = {"a.const": HEADER + PRINCIPLE + PIPELINE}
    unsafe = lint(tmp_path, files, "--unsafe-fixes")
    assert unsafe.exit_code == 2 and "--unsafe-fixes applies with --fix or --diff" in unsafe.output
    baseline = lint(tmp_path, files, "--write-baseline")
    assert baseline.exit_code == 2 and "--write-baseline needs --baseline FILE" in baseline.output
    assert lint(tmp_path, files, "--fix").exit_code == 0


def test_rule_prints_docs_by_code_or_name():
    runner = CliRunner()
    by_code = runner.invoke(cli, ["rule", "CL304"])
    assert by_code.exit_code == 0
    assert by_code.stdout.startswith("CL304 evasive-revision\n")
    assert "Why" in by_code.stdout and "Bad" in by_code.stdout and "Good" in by_code.stdout
    assert runner.invoke(cli, ["rule", "evasive-revision"]).stdout == by_code.stdout
    assert runner.invoke(cli, ["rule", "cl304"]).stdout == by_code.stdout


def test_rule_all_lists_every_rule():
    out = CliRunner().invoke(cli, ["rule", "--all"]).stdout.splitlines()
    assert out[0].split() == ["code", "name", "category", "severity", "fix"]
    assert [line.split()[0] for line in out[1:]] == [r.code for r in RULES]


def test_rule_json_and_errors():
    import json

    runner = CliRunner()
    data = json.loads(runner.invoke(cli, ["rule", "--all", "--format", "json"]).stdout)
    assert len(data) == len(RULES) and data[0]["code"] == "CL101"
    unknown = runner.invoke(cli, ["rule", "CL999"])
    assert unknown.exit_code == 2 and "no rule `CL999`" in unknown.output
    bare = runner.invoke(cli, ["rule"])
    assert bare.exit_code == 2 and "give a rule code or name, or --all" in bare.output


def test_a_crashing_rule_is_an_internal_error_with_exit_3(tmp_path):
    from constlang.lint.registry import BY_CODE

    def boom(ctx):
        raise RuntimeError("boom")

    rule = BY_CODE["CL304"]
    original = rule.check
    object.__setattr__(rule, "check", boom)  # rules are frozen: patch for this test only
    try:
        result = lint(tmp_path, {"a.const": HEADER + PRINCIPLE + PIPELINE})
    finally:
        object.__setattr__(rule, "check", original)
    assert result.exit_code == 3
    assert "internal error: rule CL304 (evasive-revision) failed on" in result.output
    assert "RuntimeError: boom" in result.output


def test_unreadable_file_gets_a_compiler_error(tmp_path):
    project(tmp_path, {})
    (tmp_path / "bin.const").write_bytes(b"\x00\x01binary")
    result = CliRunner().invoke(cli, ["lint", str(tmp_path / "bin.const")])
    assert result.exit_code == 1 and "E003" in result.stdout


def test_output_format_from_the_config(tmp_path, monkeypatch):
    project(tmp_path, {"a.const": HEADER + PRINCIPLE + PIPELINE})
    (tmp_path / "constlang.toml").write_text('[lint]\noutput-format = "json"\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["lint", "a.const"])
    assert result.exit_code == 0 and result.stdout.startswith("{")


def test_statistics_counts_findings_per_rule(tmp_path):
    second = EVASIVE.replace("principle harmful", "principle harmful_too")
    result = lint(tmp_path, {"a.const": HEADER + EVASIVE + second + PIPELINE}, "--statistics")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["2", "CL304", "evasive-revision"]
    assert all("CL304" not in line for line in lines[1:])
    clean = lint(tmp_path, {"b.const": HEADER + PRINCIPLE + PIPELINE}, "--statistics")
    assert clean.exit_code == 0
    assert clean.stdout == "All checks passed (1 file).\n"  # says so, like the plain report


def test_naming_only_excluded_files_says_so(tmp_path):
    project(tmp_path, {"a.const": HEADER + PRINCIPLE + PIPELINE})
    (tmp_path / "constlang.toml").write_text('[lint]\nexclude = ["a.const"]\n')
    result = CliRunner().invoke(cli, ["lint", str(tmp_path / "a.const")])
    assert result.exit_code == 2 and "excluded by `exclude`" in result.output
    assert CliRunner().invoke(cli, ["lint", str(tmp_path / "a.const"), "--isolated"]).exit_code == 0
