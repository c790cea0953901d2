"""Every shipped constitution lints clean at the default configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from constlang.lint.config import LintConfig
from constlang.lint.engine import lint_file

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "constitutions").glob("*.const"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_constitution_has_no_findings(path):
    result = lint_file(path, LintConfig())
    assert result.compiled
    assert result.diagnostics == []


def test_there_are_shipped_constitutions():
    assert len(SHIPPED) >= 3
