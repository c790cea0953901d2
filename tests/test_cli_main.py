"""The CLI package: every command module is imported and registered, and `main` turns user
errors, usage errors and bugs into their own exit statuses and messages."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import constlang.cli
from constlang.cli import COMMANDS, cli, main
from constlang.cli.shared import Command
from constlang.errors import InternalError, UsageError, UserError

REPO = Path(__file__).resolve().parents[1]
MODULES = sorted(m.name for m in pkgutil.iter_modules(constlang.cli.__path__))
HELPER_MODULES = {"shared", "plan_input"}  # what commands share; they define none
COMMAND_MODULES = [name for name in MODULES if name not in HELPER_MODULES]


def test_importing_the_cli_imports_every_module_of_the_package() -> None:
    code = ("import sys, constlang.cli\n"
            "print(sorted(m for m in sys.modules if m.startswith('constlang.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=120, check=True)
    assert ast.literal_eval(out.stdout) == [f"constlang.cli.{name}" for name in MODULES]


@pytest.mark.parametrize("name", COMMAND_MODULES)
def test_every_command_a_module_defines_is_registered(name: str) -> None:
    module = importlib.import_module(f"constlang.cli.{name}")
    defined = [value for value in vars(module).values() if isinstance(value, click.Command)
               and getattr(value.callback, "__module__", None) == module.__name__]
    assert defined, f"constlang/cli/{name}.py defines no command"
    for command in defined:
        assert command.name is not None
        assert cli.commands[command.name] is command  # type: ignore[attr-defined]
        assert isinstance(command, Command), f"{command.name} does not use shared.command"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_each_command_lives_in_the_module_named_after_it(command: click.Command) -> None:
    assert command.name is not None
    module = f"constlang.cli.{command.name.replace('-', '_')}"
    assert getattr(command.callback, "__module__", None) == module


def test_each_command_module_defines_one_command() -> None:
    owners = sorted(c.callback.__module__.rpartition(".")[2] for c in COMMANDS if c.callback)
    assert owners == COMMAND_MODULES


def test_the_group_holds_exactly_the_listed_commands() -> None:
    registered = cli.commands.values()  # type: ignore[attr-defined]
    assert sorted(c.name or "" for c in registered) == sorted(c.name or "" for c in COMMANDS)


def test_a_command_module_that_fails_to_import_stops_the_cli() -> None:
    code = (
        "import sys\n"
        "class Broken:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'constlang.cli.fmt':\n"
        "            raise ImportError('fmt is broken')\n"
        "sys.meta_path.insert(0, Broken())\n"
        "import constlang.cli\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert out.returncode == 1
    assert "ImportError: fmt is broken" in out.stderr


# -- exit statuses of main() --------------------------------------------------------------------

def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
             *args: str) -> tuple[int | str | None, str, str]:
    monkeypatch.setattr(sys, "argv", ["constlang", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    captured = capsys.readouterr()
    return stopped.value.code, captured.out, captured.err


def schema_raises(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    def broken() -> dict[str, object]:
        raise exc

    monkeypatch.setattr("constlang.plan.plan_schema", broken)


def test_an_unexpected_exception_is_an_internal_error_with_status_3(monkeypatch, capsys) -> None:
    schema_raises(monkeypatch, KeyError("stages"))
    code, out, err = run_main(monkeypatch, capsys, "schema")
    assert (code, out) == (3, "")
    assert err == ("internal error: KeyError: 'stages'\n"
                   "this is a bug in constlang; please report it with the input file\n")


@pytest.mark.parametrize("runner", ["main", "test runner"])
def test_an_internal_error_a_command_raises_is_a_bug_with_status_3(runner, monkeypatch,
                                                                    capsys) -> None:
    schema_raises(monkeypatch, InternalError("rule CL101 failed on x.const"))
    if runner == "main":
        code, out, err = run_main(monkeypatch, capsys, "schema")
    else:
        result = CliRunner().invoke(cli, ["schema"])
        code, out, err = result.exit_code, result.stdout, result.stderr
    assert (code, out) == (3, "")
    assert err == ("internal error: rule CL101 failed on x.const\n"
                   "this is a bug in constlang; please report it with the input file\n")


def test_a_user_error_is_one_line_and_status_1(monkeypatch, capsys) -> None:
    schema_raises(monkeypatch, UserError("the schema could not be built"))
    assert run_main(monkeypatch, capsys, "schema") == (
        1, "", "error: the schema could not be built\n")


def test_a_usage_error_is_one_line_and_status_2(monkeypatch, capsys) -> None:
    schema_raises(monkeypatch, UsageError("no such option"))
    assert run_main(monkeypatch, capsys, "schema") == (2, "", "error: no such option\n")


def test_click_usage_errors_keep_status_2(monkeypatch, capsys) -> None:
    code, _out, err = run_main(monkeypatch, capsys, "check", "no/such.const")
    assert code == 2 and "path `no/such.const` does not exist" in err


def test_success_and_version_exit_0(monkeypatch, capsys) -> None:
    assert run_main(monkeypatch, capsys, "--version")[0] == 0
    code, out, _err = run_main(monkeypatch, capsys, "schema")
    assert code == 0 and out.startswith("{")


def test_user_errors_read_the_same_under_the_test_runner(monkeypatch) -> None:
    schema_raises(monkeypatch, UsageError("no such option"))
    result = CliRunner().invoke(cli, ["schema"])
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", "error: no such option\n")


def test_an_unwritable_output_is_a_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "plan.json"
    result = CliRunner().invoke(cli, ["compile", str(REPO / "constitutions" / "minimal.const"),
                                      "-o", str(target)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot write {target}: ")
    assert result.stderr.count("\n") == 1
