"""docs/ci.md and .pre-commit-hooks.yaml, tried for real: the workflow's constlang steps run
as written, and pre-commit (when installed) accepts the hooks and the documented config."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from constlang.cli import cli

ROOT = Path(__file__).resolve().parents[2]
CI_DOC = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```yaml\n(.*?)```", CI_DOC, re.S)
yaml = pytest.importorskip("yaml")


def workflow() -> dict:
    return yaml.safe_load(BLOCKS[0])


def constlang_steps() -> list[list[str]]:
    steps = workflow()["jobs"]["constitutions"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    return [shlex.split(r)[1:] for r in runs if r.startswith("constlang ")]


def test_workflow_has_the_expected_shape():
    wf = workflow()
    steps = wf["jobs"]["constitutions"]["steps"]
    assert wf["permissions"]["security-events"] == "write"
    upload = next(s for s in steps if "upload-sarif" in s.get("uses", ""))
    assert upload["if"] == "always()" and upload["with"]["sarif_file"] == "constlang.sarif"
    assert [s[0] for s in constlang_steps()] == ["check", "lint", "lint"]


def run_steps(folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Run the workflow's constlang steps in `folder`, with `constitutions/` inside it."""
    monkeypatch.chdir(folder)
    return [CliRunner().invoke(cli, args).exit_code for args in constlang_steps()]


def test_workflow_passes_on_the_shipped_constitutions(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "constitutions", tmp_path / "constitutions")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert run_steps(tmp_path, monkeypatch) == [0, 0, 0]
    sarif = json.loads((tmp_path / "constlang.sarif").read_text())
    assert sarif["runs"][0]["results"] == []


def test_workflow_annotates_and_reports_findings(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "tests" / "lint" / "fixtures" / "project", tmp_path / "constitutions")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    monkeypatch.chdir(tmp_path)
    lint_step = constlang_steps()[1]
    result = CliRunner().invoke(cli, lint_step)
    assert result.exit_code == 1
    assert "::warning file=constitutions/findings.const,line=8,col=14," in result.stdout
    codes = run_steps(tmp_path, monkeypatch)
    assert codes == [1, 1, 1]  # broken.const has compiler errors: every step fails
    sarif = json.loads((tmp_path / "constlang.sarif").read_text())
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"]}
    assert "constitutions/findings.const" in uris


def test_hooks_manifest_runs_constlang_on_const_files():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["constlang-check", "constlang-lint", "constlang-fmt"]
    for hook in hooks:
        assert hook["entry"] == f"constlang {hook['id'].split('-')[1]}"
        assert hook["language"] == "python"
        assert re.search(hook["files"], "constitutions/harmless.const")
        assert not re.search(hook["files"], "constlang/cli/__init__.py")


# pre-commit is a dev dependency: look beside the running Python first (a venv need not be
# activated, nor live in this checkout), then on PATH.
BESIDE_PYTHON = Path(sys.executable).with_name("pre-commit")
PRE_COMMIT = str(BESIDE_PYTHON) if BESIDE_PYTHON.exists() else shutil.which("pre-commit")


@pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit is not installed")
def test_pre_commit_accepts_the_manifest_and_the_documented_configs(tmp_path):
    exe = str(PRE_COMMIT)
    subprocess.run([exe, "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
                   check=True, capture_output=True)
    for i, block in enumerate(BLOCKS[1:]):
        config = tmp_path / f"config{i}.yaml"
        config.write_text(block)
        subprocess.run([exe, "validate-config", str(config)], check=True, capture_output=True)
