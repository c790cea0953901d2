"""Issue #17: checking a template line that holds thousands of names reads the line a fixed
number of times, not once per diagnostic, and still places every diagnostic exactly."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_templates import template

from constlang.compile import CompileResult
from constlang.errors import Diagnostics
from constlang.semantics import templates
from constlang.semantics.templates import _Places, check_template

Compile = Callable[..., CompileResult]


def names_line(n: int, unprintable: bool = False) -> str:
    """One line of n undeclared names (and as many `{{ self }}` prints when asked)."""
    return " ".join(f"{{{{ v{i} }}}}" + (" {{ self }}" if unprintable else "")
                    for i in range(n))


class CountingPlaces(_Places):
    """_Places that remembers the last instance made, to read its `scanned` counter."""

    last: CountingPlaces | None = None

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        CountingPlaces.last = self


@pytest.mark.parametrize(("n", "long"), [(500, True), (5000, True), (500, False),
                                         (5000, False)])
def test_locating_many_names_on_one_line_reads_it_a_fixed_number_of_times(
        n: int, long: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates, "_Places", CountingPlaces)
    line = names_line(n, unprintable=True)
    text = (f'template t(x) """\n{line}\n"""' if long
            else 'template t(x) "\\u00e9\\t' + line + '"')
    diags = Diagnostics()
    check_template(template(text), diags, None if long else "\\u00e9\\t" + line)
    codes = [d.code for d in diags.sorted()]
    assert codes.count("E302") == n and codes.count("E308") == n
    places = CountingPlaces.last
    assert places is not None
    # each index (words, prints, escapes) reads the line once: not once per diagnostic
    assert places.scanned <= 3 * (len(line) + 20)


def test_every_diagnostic_on_a_long_line_is_at_its_own_name(compile_text: Compile) -> None:
    line = names_line(3000)
    result = compile_text(f'constlang 1\ntemplate t(x) """\n{line}\n"""\n')
    found = [(d.message.split("`")[3], d.span.column) for d in result.diagnostics
             if d.code == "E302" and d.span]
    assert len(found) == 3000
    for name, column in found:
        assert line[column - 1:column - 1 + len(name) + 1] == name + " "


def test_every_print_of_an_object_is_at_its_own_occurrence(compile_text: Compile) -> None:
    line = " ".join("{{ self }}" for _ in range(2000))
    result = compile_text(f'constlang 1\ntemplate t(x) """\n{line}\n"""\n')
    columns = [d.span.column for d in result.diagnostics if d.code == "E308" and d.span]
    assert columns == [m.start() + 4 for m in re.finditer(r"\{\{ self", line)]


def _walk(literal: str, index: int) -> int:
    """The plain walk from the start of the string (what _Places.source_offset shortens)."""
    pos = 0
    for done in range(index):
        if pos >= len(literal):
            return pos + index - done
        if literal[pos] != "\\":
            pos += 1
        elif re.match(r"u[0-9a-fA-F]{4}", literal[pos + 1:pos + 6]):
            pos += 6
        else:
            pos += 2
    return pos


@given(st.lists(st.sampled_from(["a", "\\u00e9", "\\t", "\\\"", "\\\\", "{{ y }}", " "]),
                max_size=400),
       st.lists(st.integers(0, 3000), max_size=20))
def test_source_offsets_match_a_walk_from_the_start(parts: list[str],
                                                    indexes: list[int]) -> None:
    literal = "".join(parts)
    places = _Places(template('template t(x) "x"').body, [""], literal)
    for index in indexes:
        assert places.source_offset(index) == _walk(literal, index)
