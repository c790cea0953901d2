"""Golden tests: valid files compile to the exact plan beside them; invalid files carry their
expected diagnostics as `# expect: CODE LINE:COL` comments (or `CODE FILE:LINE:COL` for a
diagnostic located in another file, FILE relative to the golden folder).

Regenerate the plans with `UPDATE_GOLDEN=1 pytest tests/test_golden.py`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from constlang.compile import CompileResult, compile_path
from constlang.semantics.resolve import MAX_IMPORT_DEPTH

GOLDEN = Path(__file__).resolve().parent / "golden"
VALID = GOLDEN / "valid"
INVALID = GOLDEN / "invalid"
EXPECT = re.compile(r"#\s*expect:\s*([EW]\d{3})\s+(?:(\S+):)?(\d+):(\d+)")
UPDATE = bool(os.environ.get("UPDATE_GOLDEN"))

Expected = set[tuple[str, str, int, int]]  # (code, file relative to the folder, line, column)


def expectations(path: Path) -> Expected:
    """The `# expect:` comments of a golden file."""
    out: Expected = set()
    for m in EXPECT.finditer(path.read_text("utf-8")):
        code, file, line, col = m.groups()
        out.add((code, file or path.name, int(line), int(col)))
    return out


def produced(result: CompileResult) -> Expected:
    """What the compiler reported, with files made relative to the project root."""
    assert result.world is not None
    root = result.world.root
    rel = {name: m.rel for name, m in result.world.modules.items()}
    out: Expected = set()
    for d in result.diagnostics:
        assert d.span is not None, d
        file = rel.get(d.span.file) or Path(d.span.file).resolve().relative_to(root).as_posix()
        out.add((d.code, file, d.span.line, d.span.column))
    return out


def cases(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.const"))  # lib/ holds files the cases import


@pytest.mark.parametrize("path", cases(VALID), ids=lambda p: p.stem)
def test_valid(path: Path) -> None:
    result = compile_path(path, root=VALID)
    assert result.diagnostics == [], [d.message for d in result.diagnostics]
    assert result.plan is not None
    expected = path.with_suffix(".plan.json")
    text = result.plan.to_json()
    if UPDATE or not expected.exists():
        expected.write_text(text, "utf-8")
        if not UPDATE:
            pytest.fail(f"wrote missing golden plan {expected.name}; check it and rerun")
    assert text == expected.read_text("utf-8"), (
        f"{expected.name} is out of date; if the change is intended, rerun with UPDATE_GOLDEN=1")


@pytest.mark.parametrize("path", cases(INVALID), ids=lambda p: p.stem)
def test_invalid(path: Path) -> None:
    expected = expectations(path)
    assert expected, f"{path.name} has no `# expect:` comment"
    result = compile_path(path, root=INVALID)
    assert produced(result) == expected
    if any(code.startswith("E") for code, *_ in expected):
        assert result.plan is None
    else:
        assert result.plan is not None  # warnings alone do not stop the plan


def test_every_valid_case_has_a_plan() -> None:
    stems = {p.stem for p in cases(VALID)}
    plans = {p.name.removesuffix(".plan.json") for p in VALID.glob("*.plan.json")}
    assert plans == stems


# -- inputs that cannot live in a text fixture: written byte for byte here -------------------

BYTE_CASES = {
    "nul_bytes": (b"constlang 1\nprinciple p {\x00}\n", {("E003", "main.const", 2, 14)}),
    "binary_garbage": (bytes(range(256)) * 4, {("E003", "main.const", 1, 1)}),
    "latin1": (b'constlang 1\n# caf\xe9\nprinciple p { critique = "x" }\n',
               {("E003", "main.const", 2, 6)}),
    "truncated_utf8": (b"constlang 1\n\xe2\x82", {("E003", "main.const", 2, 1)}),
    "bad_utf8_after_crlf": (b"constlang 1\r\n\r\n  \xc3\xa9\xff\r\n",
                            {("E003", "main.const", 3, 4)}),
}


@pytest.mark.parametrize("name", sorted(BYTE_CASES))
def test_unreadable_bytes(project: Path, name: str) -> None:
    data, expected = BYTE_CASES[name]
    (project / "main.const").write_bytes(data)
    result = compile_path(project / "main.const", root=project)
    assert result.plan is None
    assert produced(result) == expected


def test_unreadable_import_is_reported_at_the_import(project: Path) -> None:
    (project / "lib.const").write_bytes(b"constlang 1\n\xff\n")
    (project / "main.const").write_text('constlang 1\nimport "lib.const"\n', "utf-8")
    result = compile_path(project / "main.const", root=project)
    assert produced(result) == {("E003", "main.const", 2, 8)}
    assert "not valid UTF-8" in result.diagnostics[0].message


# -- inputs too large for a fixture folder: generated here ----------------------------------

GENERATED_CODES = {"E206"}  # each has its test just below


def test_an_import_chain_one_file_too_long(project: Path) -> None:
    files = MAX_IMPORT_DEPTH + 1
    for i in range(files - 1):
        name = "main.const" if i == 0 else f"c{i}.const"
        (project / name).write_text(f'constlang 1\nimport "c{i + 1}.const"\n', "utf-8")
    (project / f"c{files - 1}.const").write_text("constlang 1\n", "utf-8")
    result = compile_path(project / "main.const", root=project)
    assert produced(result) == {("E206", f"c{files - 2}.const", 2, 8)}


def test_golden_files_cover_every_compiler_code(compiler_codes: set[str]) -> None:
    covered = {code for p in cases(INVALID) for code, *_ in expectations(p)}
    covered |= {code for _, want in BYTE_CASES.values() for code, *_ in want}
    covered |= GENERATED_CODES
    # E900 is an internal error that no input should reach; test_diagnostics forces it.
    assert compiler_codes - {"E900"} <= covered
