"""Output: lint findings as GitHub annotations, SARIF 2.1.0 or JUnit XML; full text, concise
lines and JSON come from constlang.diagnostics_output, exactly as `check` prints them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import quote
from xml.etree import ElementTree as ET

from constlang import __version__, diagnostics_output
from constlang.diagnostics_output import Style, plain_style, render_report
from constlang.errors import Diagnostic, Severity
from constlang.lint.baseline import line_hash
from constlang.lint.docs import rule_markdown, rule_text
from constlang.lint.registry import BY_CODE, RULES
from constlang.source import SourceText

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
Sources = Mapping[str, SourceText]


def render_full(diagnostics: Sequence[Diagnostic], sources: Sources, files: int,
                style: Style = plain_style) -> str:
    return render_report(diagnostics, sources, files, style)


def render_concise(diagnostics: Sequence[Diagnostic], sources: Sources, files: int,
                   style: Style = plain_style) -> str:
    return render_report(diagnostics, sources, files, style, concise=True)


def render_json(diagnostics: Sequence[Diagnostic], sources: Sources, files: int) -> str:
    return diagnostics_output.render_json(diagnostics, files, "constlang lint", BY_CODE)


# ---------------------------------------------------------------- GitHub Actions

GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: Sequence[Diagnostic], sources: Sources, files: int) -> str:
    """One workflow command per finding: `::warning file=...,line=...::message`."""
    lines = []
    for d in diagnostics:
        rule = BY_CODE.get(d.code)
        title = f"{d.code} {rule.name}" if rule else d.code
        props = []
        if d.span:
            s = d.span
            props = [f"file={_gh_prop(s.file)}", f"line={s.line}", f"col={s.column}",
                     f"endLine={s.end_line}", f"endColumn={s.end_column}"]
        props.append(f"title={_gh_prop(title)}")
        message = d.message + (f"\n{d.help}" if d.help else "")
        lines.append(f"::{GITHUB_LEVEL[d.severity]} {','.join(props)}::{_gh_data(message)}")
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------- SARIF 2.1.0

SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _region(src: SourceText | None, start: int, end: int) -> dict[str, int]:
    assert src is not None
    s = src.span(start, end)
    return {"startLine": s.line, "startColumn": s.column, "endLine": s.end_line,
            "endColumn": s.end_column}


def _sarif_rules(diagnostics: Sequence[Diagnostic]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for r in RULES:
        out.append({
            "id": r.code, "name": r.name,
            "shortDescription": {"text": r.summary},
            "fullDescription": {"text": r.rationale},
            "help": {"text": rule_text(r), "markdown": rule_markdown(r)},
            "defaultConfiguration": {"enabled": r.default, "level": SARIF_LEVEL[r.severity]},
            "properties": {"category": r.category, "fix": r.fix or "none",
                           "tags": ["constlang", r.category]},
        })
    for code in sorted({d.code for d in diagnostics if d.code not in BY_CODE}):
        kind = "error" if code.startswith("E") else "warning"
        out.append({"id": code, "shortDescription": {"text": f"constlang compiler {kind} {code}"},
                    "properties": {"category": "compiler", "tags": ["constlang", "compiler"]}})
    return out


def render_sarif(diagnostics: Sequence[Diagnostic], sources: Sources, files: int) -> str:
    rules = _sarif_rules(diagnostics)
    index = {str(r["id"]): i for i, r in enumerate(rules)}
    results = []
    for d in diagnostics:
        result: dict[str, object] = {"ruleId": d.code, "ruleIndex": index[d.code],
                                     "level": SARIF_LEVEL[d.severity],
                                     "message": {"text": d.message + (
                                         f"\n{d.help}" if d.help else "")}}
        if d.span:
            uri = quote(d.span.file.replace("\\", "/"))
            result["locations"] = [{"physicalLocation": {
                "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": d.span.line, "startColumn": d.span.column,
                           "endLine": d.span.end_line, "endColumn": d.span.end_column}}}]
            fp = hashlib.sha256(f"{d.span.file}\0{d.code}\0{d.message}\0"
                                f"{line_hash(d, sources)}".encode()).hexdigest()[:32]
            result["partialFingerprints"] = {"constlangFinding/v1": fp}
            src = sources.get(d.file)
            if d.fix is not None and src is not None:
                result["fixes"] = [{
                    "description": {"text": d.fix.message + ("" if d.fix.safe else " (unsafe)")},
                    "artifactChanges": [{
                        "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                        "replacements": [{"deletedRegion": _region(src, e.start, e.end),
                                          "insertedContent": {"text": e.text}}
                                         for e in d.fix.edits]}]}]
        results.append(result)
    doc = {
        "$schema": SARIF_SCHEMA, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "constlang", "version": __version__,
                                "semanticVersion": __version__,
                                "rules": rules}},
            "columnKind": "unicodeCodePoints",
            "invocations": [{"executionSuccessful": True}],
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- JUnit XML

def render_junit(diagnostics: Sequence[Diagnostic], sources: Sources, files: int,
                 linted: Sequence[str] = ()) -> str:
    """One test suite per file; one failing test case per finding, a passing one if clean."""
    by_file: dict[str, list[Diagnostic]] = {f: [] for f in linted}
    for d in diagnostics:
        by_file.setdefault(d.file, []).append(d)
    root = ET.Element("testsuites", name="constlang lint", tests="0", failures="0")
    total = failures = 0
    for file, items in by_file.items():
        suite = ET.SubElement(root, "testsuite", name=file)
        cases = 0
        for d in items:
            where = f"{d.span.line}:{d.span.column}" if d.span else "0:0"
            rule = BY_CODE.get(d.code)
            case = ET.SubElement(suite, "testcase", classname=file,
                                 name=f"{d.code} {rule.name if rule else ''}".strip()
                                 + f" at {where}")
            failure = ET.SubElement(case, "failure", message=d.message, type=d.code)
            failure.text = f"{file}:{where}: {d.code} {d.severity.value}: {d.message}" + (
                f"\nhelp: {d.help}" if d.help else "")
            cases += 1
        if not items:
            ET.SubElement(suite, "testcase", classname=file, name="lint")
            cases = 1
        suite.set("tests", str(cases))
        suite.set("failures", str(len(items)))
        total += cases
        failures += len(items)
    root.set("tests", str(total))
    root.set("failures", str(failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


Renderer = Callable[..., str]
RENDERERS: dict[str, Renderer] = {
    "full": render_full, "concise": render_concise, "json": render_json,
    "github": render_github, "sarif": render_sarif, "junit": render_junit,
}
