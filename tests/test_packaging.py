"""Packaging: the wheel carries the grammar and the std library, and the CLI entry point."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """Build the wheel once. Offline when the build backend (hatchling) is installed; otherwise
    pip fetches it into an isolated build environment."""
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)]
    if importlib.util.find_spec("hatchling") is not None:
        cmd[4:4] = ["--no-build-isolation", "--no-index"]
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    if done.returncode != 0 and "--no-index" not in cmd:
        pytest.skip(f"hatchling is not installed and could not be fetched:\n{done.stderr[-500:]}")
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("constlang-*.whl")
    return zipfile.ZipFile(built)


def test_wheel_carries_the_grammar_and_the_std_library(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert {"constlang/_grammar/constlang.lark", "constlang/std/prelude.const",
            "constlang/std/helpful.const", "constlang/cli/__init__.py"} <= names
    packaged = wheel.read("constlang/_grammar/constlang.lark").decode("utf-8")
    assert packaged == (REPO / "grammar" / "constlang.lark").read_text("utf-8")
    for std in sorted((REPO / "constlang" / "std").glob("*.const")):
        assert wheel.read(f"constlang/std/{std.name}") == std.read_bytes()


def test_wheel_has_no_stray_files(wheel: zipfile.ZipFile) -> None:
    for name in wheel.namelist():
        assert name.startswith(("constlang/", "constlang-")), name
        assert "__pycache__" not in name and not name.endswith(".pyc"), name


def test_wheel_declares_the_console_script(wheel: zipfile.ZipFile) -> None:
    entry_points = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    text = wheel.read(entry_points).decode("utf-8")
    assert "constlang = constlang.cli:main" in text


def test_the_installed_package_finds_its_grammar_without_the_checkout(
        wheel: zipfile.ZipFile, tmp_path: Path) -> None:
    wheel.extractall(tmp_path / "site")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from constlang.syntax.parser import grammar_text, _parser; "
            "from constlang.semantics.resolve import STD_DIR; import constlang; "
            "assert constlang.__file__.startswith(sys.argv[1]), constlang.__file__; "
            "assert STD_DIR.is_relative_to(sys.argv[1]); "
            "assert 'version_header' in grammar_text(); _parser(); print('ok')")
    done = subprocess.run([sys.executable, "-I", "-c", code, str(tmp_path / "site")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
