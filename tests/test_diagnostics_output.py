"""`check` and `lint` print one report: the same JSON schema, the same text, the same summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from constlang.cli import cli

FILES = {
    "broken.const": 'constlang 1\nprinciple p { critique = "c" }\n',
    "warn.const": 'principle p { critique = "c" revision = "r" }\n',
    "clean.const": "constlang 1\n",
}
# A lint rule that finds nothing in FILES, so lint reports the compiler's diagnostics alone.
QUIET = ("--isolated", "--select", "CL101")
RECORD = ["code", "severity", "message", "file", "line", "column", "end_line", "end_column",
          "help", "fix", "rule", "category"]


@pytest.fixture
def files(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, text in FILES.items():
        (project / name).write_text(text, "utf-8")
    monkeypatch.chdir(project)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    return project


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_json_documents_have_the_same_keys_and_records(files: Path) -> None:
    check = json.loads(run("check", "--format", "json", "broken.const", "warn.const").stdout)
    lint = json.loads(run("lint", *QUIET, "--format", "json", "broken.const",
                          "warn.const").stdout)
    assert list(check) == list(lint) == ["format_version", "tool", "files", "valid", "counts",
                                         "diagnostics"]
    assert (check["tool"], lint["tool"]) == ("constlang check", "constlang lint")
    del check["tool"], lint["tool"]
    assert check == lint
    assert [list(d) for d in check["diagnostics"]] == [RECORD, RECORD]


def test_lint_rule_findings_use_the_same_record(files: Path) -> None:
    (files / "lint.const").write_text(
        'constlang 1\nprinciple p { critique = "c"  revision = "Refuse the request." }\n',
        "utf-8")
    lint = json.loads(run("lint", "--isolated", "--format", "json", "lint.const").stdout)
    found = [(d["code"], d["rule"], d["category"], list(d)) for d in lint["diagnostics"]]
    assert ("CL304", "evasive-revision", "prompts", RECORD) in found


@pytest.mark.parametrize("fmt", ["full", "concise"])
@pytest.mark.parametrize(("paths", "summary"), [
    (["broken.const"], "Found 1 error in 1 file."),
    (["warn.const"], "Found 1 warning in 1 file."),
    (["broken.const", "warn.const"], "Found 1 error and 1 warning in 2 files."),
    (["clean.const"], "All checks passed (1 file)."),
])
def test_text_output_and_summary_are_the_same(files: Path, fmt: str, paths: list[str],
                                              summary: str) -> None:
    check = run("check", "--format", fmt, *paths)
    lint = run("lint", *QUIET, "--format", fmt, *paths)
    assert check.stdout == lint.stdout
    assert check.stdout.splitlines()[-1] == summary


def test_the_documented_json_example_is_what_check_prints(project: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "errors.md").read_text("utf-8")
    output = doc.split("\n## Output\n", 1)[1].split("\n## ", 1)[0]
    source = output.split("```const example.const\n", 1)[1].split("```", 1)[0]
    shown = output.split("```json\n", 1)[1].split("```", 1)[0]
    (project / "example.const").write_text(source, "utf-8")
    monkeypatch.chdir(project)
    assert run("check", "--format", "json", "example.const").stdout == shown
    lint = json.loads(run("lint", "--isolated", "--format", "json", "example.const").stdout)
    assert lint == dict(json.loads(shown), tool="constlang lint")
