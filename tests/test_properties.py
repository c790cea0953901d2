"""Property tests: whatever the input (random text, random bytes, shipped constitutions with
random damage), compiling never raises, and every diagnostic has a code, a severity and a span
inside its file. The CI variable makes the runs derandomized (see conftest.py)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from constlang.compile import CompileResult, compile_path
from constlang.diagnostics_output import render_json, render_text
from constlang.errors import Severity
from constlang.plan import Plan
from constlang.source import normalize_text

REPO = Path(__file__).resolve().parents[1]
CONSTITUTIONS = REPO / "constitutions"
SHIPPED = {p.name: p.read_text("utf-8") for p in sorted(CONSTITUTIONS.glob("*.const"))}
CODE = re.compile(r"[EW]\d{3}")
EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "150"))  # raise it for a longer hunt

# Pieces of the language, so that insertions make near-misses rather than only noise.
TOKENS = ["{", "}", "[", "]", "(", ")", "=", ",", '"', '"""', "\\", "\n", "\r", "\t", " ", "#",
          "-", ".", "0", "1e999", "-1", "9" * 30, "true", "all", "principle", "question",
          "example", "template", "model", "dataset", "stage", "override", "drop", "import",
          "constitution", "constlang", "kind", "from", "{{", "}}", "{%", "%}", "__class__",
          "_x", "|attr('__class__')", "\\u00e9", "\\q", "\x00", "\ufeff", "é", "✓"]


def check_invariants(result: CompileResult, entry_text: str | None = None,
                     entry: str | None = None) -> None:
    for d in result.diagnostics:
        assert CODE.fullmatch(d.code), d
        assert isinstance(d.severity, Severity)
        assert d.message
        assert d.span is not None, d
        source = result.sources.get(d.span.file)
        if source is not None:
            assert 1 <= d.span.line <= source.line_count + 1, d
        if entry_text is not None and d.span.file == entry:
            assert d.span.line <= normalize_text(entry_text).count("\n") + 2, d
        assert d.span.column >= 1, d
        assert (d.span.end_line, d.span.end_column) >= (d.span.line, d.span.column), d
    render_text(result.diagnostics, result.sources)
    json.loads(render_json(result.diagnostics, 1, "constlang check"))
    if result.plan is not None:
        assert not any(d.severity is Severity.ERROR for d in result.diagnostics)
        again = Plan.from_json(result.plan.to_json())
        assert again.compute_hash() == result.plan.hash
    else:
        assert any(d.severity is Severity.ERROR for d in result.diagnostics)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(SHIPPED)))
    text = SHIPPED[name]
    for _ in range(draw(st.integers(1, 4))):
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 40)))
        op = draw(st.sampled_from(["delete", "insert", "token", "duplicate", "swap", "char"]))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(st.text(max_size=8)) + text[i:]
        elif op == "token":
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        elif op == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        elif op == "swap":
            k = draw(st.integers(j, min(n, j + 40)))
            text = text[:i] + text[j:k] + text[i:j] + text[k:]
        else:
            text = text[:i] + draw(st.characters()) + text[i + 1:]
    return name, text


@settings(max_examples=EXAMPLES)
@given(mutated())
def test_mutated_constitutions_never_raise(case: tuple[str, str]) -> None:
    name, text = case
    path = CONSTITUTIONS / name  # imports of the shipped files still resolve
    result = compile_path(path, text=text, root=CONSTITUTIONS)
    check_invariants(result, text, result.world.entry.source.path
                     if result.world and result.world.entry else None)


@settings(max_examples=EXAMPLES)
@given(st.text(max_size=400))
def test_random_text_never_raises(text: str) -> None:
    result = compile_path(REPO / "tests" / "random.const", text=text, root=REPO / "tests")
    check_invariants(result)


@settings(max_examples=EXAMPLES)
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
def test_random_token_soup_never_raises(text: str) -> None:
    result = compile_path(REPO / "tests" / "soup.const", text="constlang 1\n" + text,
                          root=REPO / "tests")
    check_invariants(result)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bytes")
    (root / "constlang.toml").write_text("", "utf-8")
    return root


@settings(max_examples=EXAMPLES)
@given(data=st.binary(max_size=400)
       | st.sampled_from(sorted(SHIPPED)).map(lambda n: SHIPPED[n].encode("utf-8")[:300]
                                              + b"\xff\xfe\x00"))
def test_random_bytes_never_raise(scratch: Path, data: bytes) -> None:
    path = scratch / "bytes.const"
    path.write_bytes(data)
    result = compile_path(path, root=scratch)
    check_invariants(result)
