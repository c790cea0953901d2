"""The registry: rule metadata, one test file per rule, docs that cannot go stale, and rule
documentation examples that really are flagged (bad) and clean (good)."""

from __future__ import annotations

from pathlib import Path

import pytest

from constlang.errors import Severity
from constlang.lint import registry
from constlang.lint.docs import DOCS_PATH, render_docs
from constlang.lint.registry import RULES
from constlang.lint.rule import CATEGORIES

from .helpers import lint_text, scaffolded

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "constlang" / "lint" / "rules"


def test_codes_and_names_are_unique_and_in_order():
    codes = [r.code for r in RULES]
    assert len(set(codes)) == len(codes) and codes == sorted(codes)
    assert len({r.name for r in RULES}) == len(RULES)
    assert len(RULES) >= 20
    assert {r.category for r in RULES} == set(CATEGORIES)


def test_every_rule_module_is_registered_once():
    modules = {p.stem for p in RULES_DIR.glob("*.py") if not p.stem.startswith("_")}
    registered = [r.check.__module__.rsplit(".", 1)[1] for r in RULES]
    assert sorted(registered) == sorted(modules)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_has_docs_a_module_docstring_and_a_test_file(rule):
    assert rule.summary and rule.rationale and rule.bad and rule.good and rule.bad != rule.good
    module = (RULES_DIR / f"{rule.name.replace('-', '_')}.py").read_text()
    assert module.startswith(f'"""{rule.code} {rule.name}: ')
    test = ROOT / "tests" / "lint" / "rules" / f"test_{rule.code.lower()}_" \
        f"{rule.name.replace('-', '_')}.py"
    assert test.is_file(), f"missing {test.relative_to(ROOT)}"


def test_docs_are_up_to_date():
    assert DOCS_PATH.read_text(encoding="utf-8") == render_docs(RULES), (
        "docs/lint.md is stale: run python -m constlang.lint.registry --write-docs")
    assert registry.main(["--check-docs"]) == 0


def test_lint_modules_stay_small():
    for path in (ROOT / "constlang" / "lint").rglob("*.py"):
        assert len(path.read_text().splitlines()) < 500, path


# ---------------------------------------------------------------- documentation examples

@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_bad_example_is_flagged_and_good_example_is_not(tmp_path, rule):
    for which, snippet, flagged in (("bad", rule.bad, True), ("good", rule.good, False)):
        diags = lint_text(tmp_path, scaffolded(snippet), header=False, select=(rule.code,))
        errors = [d for d in diags if d.severity is Severity.ERROR and d.code.startswith("E")]
        assert not errors, f"{which} example of {rule.code} does not compile: {errors}"
        found = [d for d in diags if d.code == rule.code]
        assert bool(found) == flagged, f"{which} example of {rule.code}: {found}"
