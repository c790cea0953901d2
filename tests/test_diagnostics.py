"""Diagnostics: the text and JSON renderers, inputs that must never raise, internal errors, and
docs/errors.md (every code documented, every documented example still prints what it shows)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from constlang import compile as compile_module
from constlang.cli import cli
from constlang.compile import CompileResult, compile_path
from constlang.diagnostics_output import (
    ansi_style,
    headline,
    render_json,
    render_text,
    summary_line,
)
from constlang.errors import Diagnostic, Severity
from constlang.kinds.sft import SFTSettings
from constlang.source import SourceText
from constlang.span import Span

Compile = Callable[..., CompileResult]
REPO = Path(__file__).resolve().parents[1]
ERRORS_DOC = REPO / "docs" / "errors.md"

SOURCE = """constlang 1
constitution "t" {}
model m { source = "embedded:smollm2-135m-instruct" }
dataset d { path = "d.jsonl" }
principle p { critique = "c" revision = "r" }
stage critique_revision { model = mm  prompts = d }
principle q { critique = \"\"\"
  x
  \"\"\" revision = 1 }
# padding so that the next error is on a two-digit line
#
#
#
#
principle r { critique = "c" }
"""


@pytest.fixture
def result(project: Path, monkeypatch: pytest.MonkeyPatch) -> CompileResult:
    monkeypatch.chdir(project)  # paths are shown relative to the working directory
    (project / "main.const").write_text(SOURCE, "utf-8")
    (project / "d.jsonl").write_text('{"prompt": "p"}\n', "utf-8")
    return compile_path(Path("main.const"))


def test_text_output_exactly(result: CompileResult) -> None:
    assert render_text(result.diagnostics, result.sources) == """\
main.const:6:35: E101 error: unknown model `mm`
  |
6 | stage critique_revision { model = mm  prompts = d }
  |                                   ^^
  = help: did you mean `m`?

main.const:9:18: E105 error: `revision` must be a string, not the number 1
  |
9 |   \"\"\" revision = 1 }
  |                  ^

main.const:15:11: E104 error: principle `r` is missing the required field `revision`
   |
15 | principle r { critique = "c" }
   |           ^
   = help: add `revision = ...` (The revision request: how to rewrite the reply.)
"""


def test_caret_of_a_span_over_several_lines_runs_to_the_end_of_its_first_line() -> None:
    source = SourceText("x.const", 'a = """\nline\n"""\n')
    d = Diagnostic("E105", Severity.ERROR, "bad", source.span(4, 16))
    assert render_text([d], {"x.const": source}) == (
        'x.const:1:5: E105 error: bad\n  |\n1 | a = """\n  |     ^^^\n')


def test_caret_under_a_tab_indented_line_lines_up() -> None:
    source = SourceText("x.const", "\tname = x\n")
    d = Diagnostic("E101", Severity.ERROR, "bad", source.span(8, 9))
    assert render_text([d], {"x.const": source}).splitlines()[2:4] == [
        "1 |  name = x", "  |         ^"]


def test_warnings_concise_output_and_summary(compile_text: Compile) -> None:
    r = compile_text('principle p { critique = "c" revision = "r" }\n')
    assert [d.severity for d in r.diagnostics] == [Severity.WARNING]
    text = render_text(r.diagnostics, r.sources, concise=True)
    assert re.fullmatch(r".*main\.const:1:1: W001 warning: missing language version header\n", text)
    assert summary_line(r.diagnostics, 1) == "Found 1 warning in 1 file."
    assert summary_line([], 3) == "All checks passed (3 files)."


def test_summary_names_only_the_severities_found() -> None:
    def found(*severities: Severity) -> list[Diagnostic]:
        return [Diagnostic("W001", s, "m", None) for s in severities]

    e, w, i = Severity.ERROR, Severity.WARNING, Severity.INFO
    assert summary_line(found(e), 1) == "Found 1 error in 1 file."
    assert summary_line(found(e, e, w), 1) == "Found 2 errors and 1 warning in 1 file."
    assert summary_line(found(w, i, i), 2) == "Found 1 warning and 2 notes in 2 files."
    assert summary_line(found(i, e, w), 3) == "Found 1 error, 1 warning and 1 note in 3 files."


def test_a_diagnostic_without_a_span_has_no_snippet() -> None:
    d = Diagnostic("E900", Severity.ERROR, "internal error", None, "please report this")
    assert render_text([d], {}) == (
        "<input>: E900 error: internal error\n  = help: please report this\n")


def test_ansi_style_colours_the_headline() -> None:
    d = Diagnostic("E101", Severity.ERROR, "bad", Span("x.const", 1, 1, 1, 2))
    assert headline(d, ansi_style) == "\x1b[1mx.const:1:1\x1b[0m: E101 \x1b[1;31merror\x1b[0m: bad"


def test_no_output_for_no_diagnostics() -> None:
    assert render_text([], {}) == ""


def test_json_output_shape(result: CompileResult) -> None:
    doc = json.loads(render_json(result.diagnostics, 1, "constlang check"))
    assert list(doc) == ["format_version", "tool", "files", "valid", "counts", "diagnostics"]
    assert (doc["format_version"], doc["valid"], doc["counts"]) == (
        2, False, {"error": 3, "warning": 0, "info": 0})
    first = doc["diagnostics"][0]
    assert first == {"code": "E101", "severity": "error", "message": "unknown model `mm`",
                     "file": "main.const", "line": 6, "column": 35, "end_line": 6,
                     "end_column": 37, "help": "did you mean `m`?", "fix": None,
                     "rule": None, "category": "compiler"}
    for d in doc["diagnostics"]:
        assert set(d) == set(first)


def test_json_output_when_valid() -> None:
    assert json.loads(render_json([], 3, "constlang check")) == {
        "format_version": 2, "tool": "constlang check", "files": 3, "valid": True,
        "counts": {"error": 0, "warning": 0, "info": 0}, "diagnostics": []}


def test_diagnostics_are_sorted_and_deduplicated(result: CompileResult) -> None:
    keys = [(d.span.line, d.span.column) for d in result.diagnostics if d.span]
    assert keys == sorted(keys)
    assert len({(d.code, d.message, d.span) for d in result.diagnostics}) == len(keys)


# -- inputs that must never raise --------------------------------------------------------------

def _never_raises(path: Path, root: Path) -> CompileResult:
    result = compile_path(path, root=root)
    assert result.plan is not None or any(d.severity is Severity.ERROR
                                          for d in result.diagnostics)
    for d in result.diagnostics:
        assert d.code and d.severity and d.span is not None
    return result


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("empty", b"", set()),
    ("only_comments", b"# one\n# two\n", set()),
    ("only_whitespace", b" \n\t\n\r\n", set()),
    ("header_only", b"constlang 1\n", set()),
    ("bom", b"\xef\xbb\xbfconstlang 1\nprinciple p { critique = 1 revision = \"r\" }\n",
     {("E105", 2, 26)}),
    ("crlf", b"constlang 1\r\n\r\nprinciple p {\r\n  critique = 1\r\n  revision = \"r\"\r\n}\r\n",
     {("E105", 4, 14)}),
    ("lone_cr", b"constlang 1\r\rprinciple p {\r  critique = 1\r  revision = \"r\"\r}\r",
     {("E105", 4, 14)}),
    ("mixed_endings", b"constlang 1\r\n\nprinciple p {\r  critique = 1\n  revision = \"r\"\r\n}",
     {("E105", 4, 14)}),
    ("binary", bytes(range(256)) * 64, {("E003", 1, 1)}),
    ("nul", b"constlang 1\n\x00", {("E003", 2, 1)}),  # located, wherever it is
    ("non_utf8", b"constlang 1\n\n# \xff\xfe\n", {("E003", 3, 3)}),
    ("utf16", "constlang 1\n".encode("utf-16"), {("E003", 1, 4)}),
    ("no_final_newline", b'constlang 1\nprinciple p { critique = "c" revision = "r" }', set()),
    ("eof_in_body", b"constlang 1\nprinciple p {", {("E001", 2, 13)}),  # at the open `{`
])
def test_odd_inputs(project: Path, name: str, data: bytes,
                    expected: set[tuple[str, int, int]]) -> None:
    path = project / f"{name}.const"
    path.write_bytes(data)
    result = _never_raises(path, project)
    assert {(d.code, d.span.line, d.span.column) for d in result.diagnostics if d.span} == expected


def test_odd_inputs_given_as_text_match_the_file(project: Path) -> None:
    text = "\ufeffconstlang 1\r\rprinciple p {\r  critique = 1\r  revision = \"r\"\r}\r"
    result = compile_path(project / "t.const", text=text, root=project)
    assert [(d.code, d.span.line, d.span.column) for d in result.diagnostics if d.span] == [
        ("E105", 4, 14)]


def test_a_five_megabyte_file(project: Path) -> None:
    body = "Point out harm. " * 300
    decls = [f'principle p{i} {{\n  critique = "{body}"\n  revision = """\n    {body}\n  """\n}}\n'
             for i in range(1100)]
    text = ("constlang 1\n# " + "x" * 1000 + "\n" + "".join(decls)
            + "principle bad { weight = -1 }\n")
    path = project / "big.const"
    path.write_text(text, "utf-8")
    assert path.stat().st_size > 5_000_000
    result = _never_raises(path, project)
    last = text.count("\n")
    assert {(d.code, d.span.line) for d in result.diagnostics if d.span} == {
        ("E104", last), ("E106", last)}


def test_a_file_over_the_size_limit_is_refused(project: Path, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    monkeypatch.setattr("constlang.source.MAX_SOURCE_BYTES", 100)
    path = project / "big.const"
    path.write_text("# " + "x" * 200 + "\n", "utf-8")
    result = _never_raises(path, project)
    assert [d.code for d in result.diagnostics] == ["E003"]
    assert "limit" in result.diagnostics[0].message


@pytest.mark.parametrize("depth", [100, 10_000])
def test_deeply_nested_lists(project: Path, depth: int) -> None:
    path = project / "deep.const"
    path.write_text(f"constlang 1\nprinciple p {{ tags = {'[' * depth}{']' * depth} }}\n", "utf-8")
    result = _never_raises(path, project)
    assert "E001" in {d.code for d in result.diagnostics}


def test_a_directory_and_a_missing_file(project: Path) -> None:
    (project / "dir.const").mkdir()
    for name in ("dir.const", "missing.const"):
        result = _never_raises(project / name, project)
        assert [d.code for d in result.diagnostics] == ["E003"]


def test_internal_errors_become_E900(compile_text: Compile, project: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_stage(self: object, name: str, ch: object) -> object:
        return SFTSettings.model_validate({})  # raises ValidationError, as a lowering bug would

    monkeypatch.setattr(compile_module._Lowering, "stage", broken_stage)
    (project / "d").write_text('{"prompt": "p"}\n', "utf-8")
    result = compile_text(
        'constlang 1\nconstitution "t" {}\nprinciple p { critique = "c" revision = "r" }\n'
        'model m { source = "embedded:smollm2-135m-instruct" }\ndataset d { path = "d" }\n'
        "stage critique_revision { model = m  prompts = d }\n")
    assert result.plan is None
    assert [(d.code, d.span) for d in result.diagnostics] == [("E900", None)]
    assert "internal error" in result.diagnostics[0].message


# -- docs/errors.md ---------------------------------------------------------------------------

SECTION = re.compile(r"^## ([EW]\d{3})\b", re.M)
FENCE = re.compile(r"^```(\w+)(?: (\S+))?\n(.*?)^```\n", re.M | re.S)


def doc_sections() -> dict[str, str]:
    text = ERRORS_DOC.read_text("utf-8")
    parts = SECTION.split(text)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_compiler_code_is_documented_and_nothing_else(compiler_codes: set[str]) -> None:
    assert set(doc_sections()) == compiler_codes


@pytest.mark.parametrize("code", sorted(doc_sections()) if ERRORS_DOC.exists() else [])
def test_documented_examples_print_what_the_docs_show(code: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    section = doc_sections()[code]
    blocks = FENCE.findall(section)
    files = [(name, body) for lang, name, body in blocks if lang == "const" and name]
    outputs = [body for lang, _name, body in blocks if lang == "text"]
    if code == "E900":
        assert not files  # no input should reach an internal error
        return
    assert files and len(outputs) == 1, f"{code}: needs `const FILE` blocks and one text block"
    project = tmp_path / "project"
    (project / "constlang.toml").parent.mkdir()
    (project / "constlang.toml").write_text("", "utf-8")
    if code == "E206":  # the chain is too long to show: the example names its first files
        files += [(f"c{i}.const", f'constlang 1\nimport "c{i + 1}.const"\n')
                  for i in range(2, 1000)]
        files.append(("c1000.const", "constlang 1\n"))
    if code not in ("E207", "W002"):  # their examples are about the file being missing
        files += [(data, '{"prompt": "How do I pick a lock?"}\n') for _, body in files
                  for data in re.findall(r'path = "(\w[\w/.-]*\.jsonl)"', body)]
    for name, body in files:
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, "utf-8")
    monkeypatch.chdir(project)
    run = CliRunner().invoke(cli, ["check", files[0][0]])
    if os.environ.get("UPDATE_GOLDEN") and run.output != outputs[0]:
        text = ERRORS_DOC.read_text("utf-8")
        fixed = section.replace(f"```text\n{outputs[0]}```", f"```text\n{run.output}```")
        ERRORS_DOC.write_text(text.replace(section, fixed), "utf-8")
        return
    assert run.output == outputs[0], "rerun with UPDATE_GOLDEN=1 to rewrite docs/errors.md"
    assert code in {m for m in re.findall(r": ([EW]\d{3}) ", run.output)}
