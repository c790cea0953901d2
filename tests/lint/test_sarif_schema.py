"""SARIF output validates against the SARIF 2.1.0 schema subset written for offline tests."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from constlang.cli import cli
from constlang.lint.registry import RULES

HERE = Path(__file__).parent
SCHEMA = json.loads((HERE / "sarif-2.1.0-subset.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sarif() -> dict:
    old = os.getcwd()
    os.chdir(HERE / "fixtures" / "project")  # so that the report's paths are relative
    try:
        result = CliRunner().invoke(cli, ["lint", ".", "--output-format", "sarif"])
    finally:
        os.chdir(old)
    assert result.exit_code == 1
    return json.loads(result.stdout)


def validator() -> jsonschema.Draft7Validator:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    return jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def test_report_is_valid_sarif_2_1_0(sarif):
    errors = sorted(validator().iter_errors(sarif), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_every_rule_is_described_with_its_docs(sarif):
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    by_id = {r["id"]: r for r in rules}
    for rule in RULES:
        entry = by_id[rule.code]
        assert entry["name"] == rule.name
        assert rule.bad in entry["help"]["markdown"] and rule.rationale in entry["help"]["markdown"]
        assert all(line in entry["help"]["text"] for line in rule.good.splitlines())
    for result in sarif["runs"][0]["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_fixes_are_replacements_on_regions(sarif):
    fixed = [r for r in sarif["runs"][0]["results"] if "fixes" in r]
    assert {r["ruleId"] for r in fixed} == {"CL603", "CL901", "CL404"}
    change = next(r for r in fixed if r["ruleId"] == "CL404")["fixes"][0]["artifactChanges"][0]
    assert change["replacements"][0]["insertedContent"] == {"text": "true"}


@pytest.mark.parametrize("mutate", [
    lambda d: d["runs"][0]["results"][0].update(severity="warning"),  # not a SARIF property
    lambda d: d["runs"][0]["results"][0].update(level="info"),  # not a SARIF level
    lambda d: d["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"].update(
        startLine=0),
    lambda d: d["runs"][0]["results"][0].pop("message"),
    lambda d: d["runs"][0]["tool"]["driver"].pop("name"),
    lambda d: d["runs"][0]["tool"]["driver"]["rules"][0]["shortDescription"].pop("text"),
    lambda d: d.update(version="2.0.0"),
])
def test_schema_subset_rejects_invalid_documents(sarif, mutate):
    broken = copy.deepcopy(sarif)
    mutate(broken)
    assert list(validator().iter_errors(broken))
