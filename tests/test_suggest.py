"""Did-you-mean: the index of names behind it finds the name meant among many, stays cheap
(few comparisons a misspelling), and stops suggesting after the first MAX_SUGGESTIONS."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from constlang.compile import CompileResult
from constlang.errors import did_you_mean
from constlang.suggest import FULL_POOL, MAX_SUGGESTIONS, NameIndex

MANY = [f"principle_{i}" for i in range(3000)] + ["harmless", "helpful", "honest"]


@pytest.mark.parametrize(("typo", "meant"), [
    ("principel_17", "principle_17"),  # two letters swapped
    ("principle_2999x", "principle_2999"),  # a letter too many at the end
    ("rinciple_2500", "principle_2500"),  # the first letter lost
    ("xprinciple_42", "principle_42"),  # one letter too many at the start
    ("harmles", "harmless"),
    ("hepful", "helpful"),
])
def test_the_name_meant_is_found_among_thousands(typo: str, meant: str) -> None:
    assert NameIndex(MANY).suggest(typo) == meant


def test_a_misspelling_is_compared_with_few_names() -> None:
    index = NameIndex(MANY)
    for typo in ("principel_17", "zzzzzz", "honset"):
        assert len(index.pool(typo)[0]) <= 16
    assert index.suggest("zzzzzz") is None


def test_few_names_are_all_compared() -> None:
    names = [f"n{i}" for i in range(FULL_POOL)]
    assert NameIndex(names).pool("n5x")[0] == sorted(n for n in names if len(n) >= 2)
    assert did_you_mean("colour", ["color", "flavor"]) == "did you mean `color`?"


def test_suggestions_stop_after_the_first_ones() -> None:
    index = NameIndex(MANY)
    found = [index.suggest(f"principel_{i}") for i in range(MAX_SUGGESTIONS + 5)]
    assert found[:MAX_SUGGESTIONS] == [f"principle_{i}" for i in range(MAX_SUGGESTIONS)]
    assert found[MAX_SUGGESTIONS:] == [None] * 5


def test_the_checker_suggests_for_misspelled_references(
        compile_text: Callable[..., CompileResult]) -> None:
    decls = "".join(f'principle principle_{i} {{ critique = "c{i}" revision = "r" }}\n'
                    for i in range(300))
    refs = ", ".join(f"principel_{i}" for i in range(300))
    result = compile_text('constlang 1\nmodel m { source = "embedded:smollm2-135m-instruct" }\n'
                          'dataset d { path = "d.jsonl" }\n' + decls +
                          f"stage critique_revision {{ model = m prompts = d principles = "
                          f"[{refs}] }}\n")
    unknown = [d for d in result.diagnostics if d.code == "E101"]
    assert len(unknown) == 300
    helps = [d.help or "" for d in unknown]
    assert sum(h.startswith("did you mean") for h in helps) == MAX_SUGGESTIONS
    assert helps[0] == "did you mean `principle_0`?"
    assert all(h.startswith("declare it") for h in helps[MAX_SUGGESTIONS:])
