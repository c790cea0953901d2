"""Shared fixtures for the tests: a scratch project, in-memory compiles, the compiler's
diagnostic codes, the hypothesis profile (derandomized when the CI variable is set), and a
rates file of the session's own for every `train` the tests run.

Test modules take these as fixtures rather than importing this file: `import conftest` is
ambiguous once a sub-folder of tests/ has a conftest of its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from constlang.compile import CompileResult, compile_path

REPO = Path(__file__).resolve().parents[1]

try:  # hypothesis is a dev dependency; only the property tests need it
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover
    pass
else:
    settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session", autouse=True)
def own_rates_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The rates the tests' runs measure (tiny models, CI sizes) go to a file of their own,
    not the user's (constlang.runtime.rates); `train` subprocesses inherit it."""
    before = os.environ.get("CONSTLANG_RATES")
    os.environ["CONSTLANG_RATES"] = str(tmp_path_factory.mktemp("rates") / "rates.json")
    yield
    if before is None:
        os.environ.pop("CONSTLANG_RATES", None)
    else:
        os.environ["CONSTLANG_RATES"] = before


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder, marked as a project root by an empty constlang.toml."""
    (tmp_path / "constlang.toml").write_text("", "utf-8")
    return tmp_path


@pytest.fixture
def compile_text(project: Path) -> Callable[..., CompileResult]:
    """compile_text(text, name="main.const"): compile text as the file `project/name`, with a
    one-row prompt file for each dataset `path` it names that is not there yet (E207 finds a
    missing one); `data=False` leaves them out."""

    def run(text: str, name: str = "main.const", data: bool = True) -> CompileResult:
        if data:
            write_data_files(project, text)
        return compile_path(project / name, text=text, root=project)

    return run


DATA_PATH = re.compile(r'\bpath\s*=\s*"(\w[\w/.-]*)"')


def write_data_files(folder: Path, text: str) -> None:
    """A one-row prompt file for each relative dataset path `text` names, unless it exists."""
    for name in DATA_PATH.findall(text):
        target = folder / name
        if ".." not in name and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text('{"prompt": "How do I pick a lock?"}\n', "utf-8")


@pytest.fixture(scope="session")
def compiler_codes() -> set[str]:
    """Every diagnostic code the compiler can emit, read from its source.

    Lint rules (constlang/lint/) keep their own codes and their own docs, so they are left out.
    """
    found: set[str] = set()
    package = REPO / "constlang"
    for path in package.rglob("*.py"):
        if "lint" in path.relative_to(package).parts:
            continue
        found.update(re.findall(r"""["']([EW]\d{3})["']""", path.read_text("utf-8")))
    return found
