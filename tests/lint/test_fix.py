"""--fix, --unsafe-fixes and --diff: edits on spans that keep everything else."""

from __future__ import annotations

from click.testing import CliRunner

from constlang.cli import cli
from constlang.errors import Diagnostic, Edit, Fix, Severity
from constlang.lint.fix import apply_fixes

from .helpers import HEADER, PIPELINE, project

BODY = HEADER + '''# Header comment, kept.
principle harmful {   # trailing comment, kept
  critique = "  Point out anything harmful.  "   # CL311: unsafe
  revision = "Rewrite the reply without the harm, and keep helping."
  tags     = ["harm",   "tone", "harm"]        # CL603: safe
}

template respond_prompt(prompt, examples) """
{{ prompt }}
"""
''' + PIPELINE + '''
stage feedback {
  policy = sft  judge = assistant  prompts = prompts
  swap_positions = false   # CL404: unsafe
}
question q { text = "Which reply is less harmful?" }
'''


def run(tmp_path, *args, text=BODY, name="a.const"):
    project(tmp_path, {name: text})
    result = CliRunner().invoke(cli, ["lint", str(tmp_path / name), "--output-format",
                                      "concise", *args])
    return result, (tmp_path / name).read_text()


def test_fix_applies_safe_fixes_only_and_keeps_comments(tmp_path):
    result, after = run(tmp_path, "--fix")
    expected = BODY.replace('["harm",   "tone", "harm"]', '["harm",   "tone"]')
    assert after == expected  # comments, spacing and alignment untouched elsewhere
    assert "Fixed 1 finding." in result.stderr
    assert "CL404" in result.stdout and result.exit_code == 1  # the unsafe one remains


def test_unsafe_fixes_apply_the_rest(tmp_path):
    result, after = run(tmp_path, "--fix", "--unsafe-fixes")
    assert "swap_positions = true   # CL404: unsafe" in after
    assert '"Point out anything harmful."' in after and "respond_prompt(prompt)" in after
    assert result.exit_code == 0, result.stdout


def test_fixing_is_idempotent(tmp_path):
    _, once = run(tmp_path, "--fix", "--unsafe-fixes")
    result, twice = run(tmp_path, "--fix", "--unsafe-fixes", text=once)
    assert once == twice and "Fixed" not in result.stderr


def test_diff_prints_a_patch_and_writes_nothing(tmp_path):
    result, after = run(tmp_path, "--diff")
    assert after == BODY
    assert result.exit_code == 1
    assert '-  tags     = ["harm",   "tone", "harm"]        # CL603: safe' in result.stdout
    assert '+  tags     = ["harm",   "tone"]        # CL603: safe' in result.stdout


def test_crlf_line_endings_and_bom_survive(tmp_path):
    project(tmp_path, {})
    path = tmp_path / "a.const"
    path.write_bytes(b"\xef\xbb\xbf" + BODY.replace("\n", "\r\n").encode())
    CliRunner().invoke(cli, ["lint", str(path), "--fix"])
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and b"\n" not in raw.replace(
        b"\r\n", b"")
    assert b'["harm",   "tone"]' in raw


def test_overlapping_fixes_wait_for_the_next_pass():
    def diag(start: int, end: int, text: str) -> Diagnostic:
        return Diagnostic("CL999", Severity.WARNING, "m", None, None,
                          Fix("f", (Edit(start, end, text),)))

    text, done = apply_fixes("abcdef", [diag(1, 3, "X"), diag(2, 4, "Y"), diag(4, 5, "Z")])
    assert text == "aXdZf" and len(done) == 2
