"""The in-process half of the hostile-input harness (issue #11): hypothesis mutates the shipped
constitutions, the golden files and the hostile corpus (insertions, deletions, repeated lines,
unicode oddities) and runs check, lint and fmt on the result. The contract: nothing raises (no
internal error), fmt is idempotent, and for input that compiles, formatting keeps the plan hash.

tests/test_hostile.py is the other half: real processes under memory and time limits. The runs
are derandomized, so CI sees the same inputs every time; FUZZ_EXPLORE=1 draws fresh ones and
FUZZ_EXAMPLES raises the count for a longer hunt."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hostile_cases import CASES, DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from constlang.compile import compile_path
from constlang.diagnostics_output import render_json, render_text
from constlang.errors import Severity
from constlang.lint.config import LintConfig
from constlang.lint.engine import lint_result
from constlang.lint.registry import RULES
from constlang.syntax.format import FormatError, format_source

REPO = Path(__file__).resolve().parents[1]
HANG_GUARD_S = 60  # per example, far above its real cost (tens of milliseconds)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "250"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get(
    "FUZZ_EXPLORE"), suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
EVERY_RULE = tuple(r.code for r in RULES)

# Seeds: files on disk (their imports and datasets resolve beside them) ...
ON_DISK = sorted([*(REPO / "constitutions").glob("*.const"),
                  *(REPO / "tests" / "golden" / "valid").glob("*.const"),
                  *(REPO / "tests" / "golden" / "invalid").glob("*.const")])
# ... and the small texts of the hostile corpus, compiled in a scratch project.
CORPUS = sorted({text for c in CASES for name, text in c.files.items()
                 if name.endswith(".const") and isinstance(text, str) and len(text) < 4000})

ODDITIES = ["\u200b", "\u200d", "\u202e", "\u2066", "\ufeff", "\u00a0", "\u0301", "\u3000",
            "\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\r", "\r\n", "\t", "\x00", "\x7f",
            "\U0001f600", "e\u0301", "\ud800", "\\ud800", "\\U0010ffff", "\\x", "İ", "ǅ", "ﬁ",
            "{{", "}}", "{%", "%}", "{#", '"""', '"', "#", "\\", "(", ")", "[", "]", "{", "}"]


@contextmanager
def hang_guard() -> Iterator[None]:
    """Fail the example, rather than hang the suite, if one run goes on for a minute."""
    def stop(signum: int, frame: object) -> None:
        raise AssertionError(f"an example ran for more than {HANG_GUARD_S} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(HANG_GUARD_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[int, str]:
    """(seed index, damaged text): index < len(ON_DISK) names a file, the rest the corpus."""
    index = draw(st.integers(0, len(ON_DISK) + len(CORPUS) - 1))
    text = ON_DISK[index].read_text("utf-8") if index < len(ON_DISK) \
        else CORPUS[index - len(ON_DISK)]
    for _ in range(draw(st.integers(1, 5))):
        lines = text.split("\n")
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 60)))
        op = draw(st.sampled_from(["insert", "delete", "odd", "line-twice", "line-gone",
                                   "line-swap", "repeat"]))
        if op == "insert":
            text = text[:i] + draw(st.text(max_size=12)) + text[i:]
        elif op == "delete":
            text = text[:i] + text[j:]
        elif op == "odd":
            text = text[:i] + draw(st.sampled_from(ODDITIES)) + text[i:]
        elif op == "repeat":  # a stretch many times over: long lines, deep nesting
            text = text[:j] + text[i:j] * draw(st.integers(2, 200)) + text[j:]
        else:
            k = draw(st.integers(0, len(lines) - 1))
            if op == "line-twice":
                lines.insert(k, lines[k])
            elif op == "line-gone":
                del lines[k]
            else:
                m = draw(st.integers(0, len(lines) - 1))
                lines[k], lines[m] = lines[m], lines[k]
            text = "\n".join(lines)
    return index, text


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "constlang.toml").write_text("", "utf-8")
    (root / "data.jsonl").write_text(DATA, "utf-8")
    return root


def where(index: int, scratch: Path) -> Path:
    return ON_DISK[index] if index < len(ON_DISK) else scratch / "main.const"


def plan_hash(path: Path, text: str) -> str | None:
    plan = compile_path(path, text=text, root=path.parent).plan
    return plan.hash if plan is not None else None


@FUZZ
@given(mutated())
def test_check_lint_and_fmt_keep_the_contract(scratch: Path, case: tuple[int, str]) -> None:
    index, text = case
    path = where(index, scratch)
    with hang_guard():
        # check: compile, then print the diagnostics as the command does
        result = compile_path(path, text=text, root=path.parent)
        assert not any(d.code == "E900" for d in result.diagnostics), result.diagnostics
        render_text(result.diagnostics, result.sources)
        render_json(result.diagnostics, 1, "constlang check")
        assert (result.plan is None) == any(d.severity is Severity.ERROR
                                            for d in result.diagnostics)
        # lint: every rule, on the same compile result (a rule that raises fails here)
        lint_result(path, result, LintConfig(select=EVERY_RULE, root=path.parent))
        # fmt: idempotent, and the plan of a compiling file survives it
        try:
            once = format_source(text, str(path))
        except FormatError as exc:
            assert exc.diagnostics and result.plan is None
            return
        assert format_source(once, str(path)) == once
        if result.plan is not None:
            assert plan_hash(path, once) == result.plan.hash
