"""--baseline: record today's findings, then report only new ones."""

from __future__ import annotations

import json

from click.testing import CliRunner

from constlang.cli import cli

from .helpers import HEADER, PIPELINE, project

EVASIVE = '''
principle harmful {
  critique = "Point out anything harmful."
  revision = "Refuse the request."
}
'''
LECTURE = '''
principle lecture {
  critique = "Is the reply rude?"
  revision = "Lecture the user about manners."
}
'''


def lint(tmp_path, *args):
    return CliRunner().invoke(cli, ["lint", str(tmp_path / "a.const"), "--output-format",
                                    "concise", "--baseline", str(tmp_path / "base.json"), *args])


def test_baseline_hides_recorded_findings_and_shows_new_ones(tmp_path):
    project(tmp_path, {"a.const": HEADER + EVASIVE + PIPELINE})
    written = lint(tmp_path, "--write-baseline")
    assert written.exit_code == 0 and "wrote 1 finding" in written.stderr
    doc = json.loads((tmp_path / "base.json").read_text())
    assert [(e["file"], e["code"], e["count"]) for e in doc["findings"]] == [
        ("a.const", "CL304", 1)]

    assert lint(tmp_path).exit_code == 0
    # lines inserted above the old finding do not make it new
    (tmp_path / "a.const").write_text(HEADER + "\n\n# moved down\n" + EVASIVE + LECTURE + PIPELINE)
    result = lint(tmp_path)
    assert result.exit_code == 1
    assert [line.split(": ")[1].split()[0] for line in result.stdout.splitlines()[:-1]] == [
        "CL304"]
    assert "lecture" in result.stdout and "1 finding hidden by the baseline" in result.stderr


def test_editing_the_flagged_line_makes_the_finding_new(tmp_path):
    project(tmp_path, {"a.const": HEADER + EVASIVE + PIPELINE})
    lint(tmp_path, "--write-baseline")
    (tmp_path / "a.const").write_text(HEADER + EVASIVE.replace("Refuse the request.",
                                                               "Refuse the request!") + PIPELINE)
    assert lint(tmp_path).exit_code == 1


def test_missing_or_invalid_baseline_is_a_usage_error(tmp_path):
    project(tmp_path, {"a.const": HEADER + EVASIVE + PIPELINE})
    missing = lint(tmp_path)
    assert missing.exit_code == 2 and "no such baseline file" in missing.output
    (tmp_path / "base.json").write_text("[1, 2]")
    result = lint(tmp_path)
    assert result.exit_code == 2 and "not a constlang baseline" in result.output


def test_writing_the_baseline_replaces_it_whole_or_is_one_usage_error(tmp_path):
    project(tmp_path, {"a.const": HEADER + EVASIVE + PIPELINE})
    (tmp_path / "base.json").write_text("old")
    before = set(tmp_path.iterdir())
    assert lint(tmp_path, "--write-baseline").exit_code == 0
    assert set(tmp_path.iterdir()) == before  # replaced in place: no temporary file left
    assert json.loads((tmp_path / "base.json").read_text())["findings"]
    result = CliRunner().invoke(cli, ["lint", str(tmp_path / "a.const"), "--write-baseline",
                                      "--baseline", str(tmp_path / "missing" / "base.json")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot write the baseline {tmp_path / 'missing'}")
    assert result.stderr.count("\n") == 1
