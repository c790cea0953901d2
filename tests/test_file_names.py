"""File names that are not UTF-8: a located E003 with the name shown in \\xNN escapes, from
every command that compiles, and one error line from fmt; never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from constlang.cli import cli
from constlang.compile import compile_path

NAME = os.fsdecode(b"caf\xe9.const")
TEXT = b'constlang 1\nprinciple p { critique = "c" revision = "r" }\n'


@pytest.fixture
def bad(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(project)
    path = project / NAME
    path.write_bytes(TEXT)
    return path


def test_compiling_it_is_a_located_error(bad: Path) -> None:
    result = compile_path(Path(NAME))
    [d] = result.diagnostics
    assert d.code == "E003" and d.message == "the file name is not valid UTF-8"
    assert d.span is not None and d.span.file == "caf\\xe9.const" and d.span.line == 1


@pytest.mark.parametrize("args", [["check"], ["lint", "--isolated"], ["compile"], ["fmt"]])
def test_every_command_names_it_printably(bad: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, NAME])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "caf\\xe9.const:1:1:" in result.output and "not valid UTF-8" in result.output
    assert result.exit_code in (1, 2)
    assert bad.read_bytes() == TEXT  # fmt did not rewrite it
