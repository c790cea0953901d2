"""docs/cli.md is the --help of every command; it is regenerated, and this test keeps it fresh."""

from __future__ import annotations

import os
from pathlib import Path

import click
from click.testing import CliRunner

from constlang.cli import cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
INTRO = """# Command-line reference

Every command's `--help`, generated from the code (regenerate with
`UPDATE_GOLDEN=1 pytest tests/test_cli_docs.py`). Exit status everywhere: 0 ok, 1 findings,
errors in the input or failed work, 2 usage errors, 3 internal errors (a bug in constlang; the
message asks you to report it). [errors.md](errors.md#exit-status) explains them.
"""


def generated() -> str:
    runner = CliRunner()
    parts = [INTRO]
    names = ["", *sorted(cli.commands)]  # type: ignore[attr-defined]
    for name in names:
        args = [name, "--help"] if name else ["--help"]
        result = runner.invoke(cli, args, terminal_width=100, prog_name="constlang")
        assert result.exit_code == 0, result.output
        title = f"constlang {name}".strip()
        parts.append(f"## `{title}`\n\n```\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


def test_cli_reference_is_current() -> None:
    text = generated()
    if os.environ.get("UPDATE_GOLDEN"):
        DOC.write_text(text, encoding="utf-8")
    assert DOC.read_text(encoding="utf-8") == text, \
        "docs/cli.md is stale: run UPDATE_GOLDEN=1 pytest tests/test_cli_docs.py"


def test_every_command_has_a_help_text() -> None:
    for name, command in cli.commands.items():  # type: ignore[attr-defined]
        assert isinstance(command, click.Command)
        assert command.help and command.get_short_help_str(limit=60), name
