"""Golden tests: `constlang lint` on a fixture project, in every output format.

Regenerate the expected files with UPDATE_GOLDEN=1 after a deliberate change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from constlang.cli import cli

HERE = Path(__file__).parent
PROJECT = HERE / "fixtures" / "project"
GOLDEN = HERE / "golden"
FORMATS = {"full": "txt", "concise": "txt", "json": "json", "github": "txt", "sarif": "json",
           "junit": "xml"}


def run_lint(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.chdir(PROJECT)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    result = CliRunner().invoke(cli, ["lint", ".", *args])
    return result.exit_code, result.stdout


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_output_format_matches_golden_file(monkeypatch, fmt):
    code, out = run_lint(monkeypatch, "--output-format", fmt)
    assert code == 1  # the fixture has warnings and errors
    golden = GOLDEN / f"lint.{fmt}.{FORMATS[fmt]}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8")


def test_json_report_counts_match_its_diagnostics(monkeypatch):
    _, out = run_lint(monkeypatch, "--output-format", "json")
    doc = json.loads(out)
    severities = [d["severity"] for d in doc["diagnostics"]]
    assert doc["counts"] == {s: severities.count(s) for s in ("error", "warning", "info")}
    assert doc["files"] == 4
    assert {d["rule"] for d in doc["diagnostics"] if d["code"].startswith("CL")} >= {
        "evasive-revision", "unswapped-small-judge"}


def test_github_lines_are_workflow_commands(monkeypatch):
    _, out = run_lint(monkeypatch, "--output-format", "github")
    for line in out.splitlines():
        assert line.startswith(("::error ", "::warning ", "::notice ")), line
        props, _, message = line.partition("::")[2].partition("::")
        assert "\n" not in message and message
        assert "title=" in props


def test_junit_has_a_suite_per_file(monkeypatch):
    from xml.etree import ElementTree as ET

    _, out = run_lint(monkeypatch, "--output-format", "junit")
    root = ET.fromstring(out)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"broken.const", "clean.const", "findings.const", "old.const"}
    assert suites["clean.const"].get("failures") == "0"
    assert suites["clean.const"].get("tests") == "1"
    failures = sum(int(s.get("failures")) for s in suites.values())
    assert root.get("failures") == str(failures) and failures == len(list(root.iter("failure")))


def test_output_file_gets_the_report(monkeypatch, tmp_path):
    target = tmp_path / "report.sarif"
    code, out = run_lint(monkeypatch, "--output-format", "sarif", "-o", str(target))
    assert out == "" and code == 1
    assert json.loads(target.read_text())["version"] == "2.1.0"
