"""Checks in the editor: hover on a check and a checker, completion in a check body,
navigation and rename of check names, symbols and semantic tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pygls")

from lsprotocol import types as T  # noqa: E402

from constlang.lsp.analysis import Store, analyse  # noqa: E402
from constlang.lsp.completion import complete  # noqa: E402
from constlang.lsp.hover import hover_at  # noqa: E402
from constlang.lsp.navigation import (  # noqa: E402
    definition,
    document_symbols,
    references,
    rename,
)
from constlang.lsp.tokens import KIND_TYPE, semantic_tokens  # noqa: E402

TEXT = '''constlang 1
constitution "c" { version = "0.1.0" }

check no_phone {
  checker     = regex
  pattern     = "\\\\d{3}-\\\\d{4}"
  expect      = no_match
  applies_to  = ["pii"]
  weight      = 2
  description = "No phone numbers."
}

principle harmful {
  critique = "Point out anything harmful."
  revision = "Rewrite it without harm."
  checks   = [no_phone]
}

question safer {
  text   = "Which reply is safer?"
  checks = no_phone
}
'''


@pytest.fixture
def a(tmp_path: Path):
    path = tmp_path / "main.const"
    path.write_text(TEXT, "utf-8")
    result = analyse(path, TEXT, {})
    assert result.index is not None and result.result.ok, result.diagnostics
    return result


def hover(a, needle: str, nth: int = 0, delta: int = 1) -> str:
    at = -1
    for _ in range(nth + 1):
        at = TEXT.index(needle, at + 1)
    found = hover_at(a, a.display, at + delta)
    assert found is not None
    return found[0]


def test_hover_on_a_check_name_shows_checker_scope_weight_description(a):
    for nth in (0, 1, 2):  # its declaration and both uses
        text = hover(a, "no_phone", nth)
        assert "**check `no_phone`** · checker `regex`" in text
        assert '- **scope**: replies to prompts tagged "pii"' in text
        assert "- **weight**: 2" in text
        assert "- **description**: No phone numbers." in text
        assert "- **expect**: no_match" in text


def test_hover_on_a_checker_shows_its_summary_and_arguments(a):
    text = hover(a, "= regex", delta=3)
    assert text.startswith("**checker `regex`** · built-in")
    assert "RE2" in text
    assert "- `pattern` (a string; default (required)): An RE2 regular expression" in text
    assert "- `ignore_case` (`true` or `false`; default `false`)" in text


def test_hover_on_an_argument_shows_what_it_means(a):
    text = hover(a, "pattern     =")
    assert text.startswith("**pattern** · setting of check")
    assert "An RE2 regular expression" in text and "(required)" in text


def labels(text: str, needle: str) -> list[str]:
    at = text.index(needle) + len(needle)
    return [i.label for i in complete(None, text, at)]


def test_completion_in_a_check_body_offers_common_fields_and_the_checkers_arguments():
    text = 'constlang 1\ncheck c {\n  checker = phrases\n  exp\n}\n'
    found = labels(text, "  exp")
    assert {"applies_to", "weight", "description"} <= set(found)
    assert {"phrases", "expect", "case_sensitive", "normalize"} <= set(found)
    assert "checker" not in found and "pattern" not in found  # set already; another checker's
    other = labels(text.replace("phrases", "length"), "  exp")
    assert {"min", "max", "unit"} <= set(other) and "normalize" not in other


def test_completion_of_checker_and_argument_values():
    text = "constlang 1\ncheck c {\n  checker = \n}\n"
    items = complete(None, text, text.index("= ") + 2)
    assert [i.label for i in items][:5] == ["refusal", "regex", "phrases", "length", "json"]
    assert all(i.detail for i in items)
    enum = labels('constlang 1\ncheck c {\n  checker = refusal\n  expect = \n}\n', "expect = ")
    assert enum == ["decline", "redirect", "comply"]


def test_definition_references_and_rename_of_a_check(a, tmp_path: Path):
    use = TEXT.index("[no_phone]") + 2
    loc = definition(a, a.display, use, "utf-16")
    assert loc is not None and loc.range.start.line == TEXT[:TEXT.index("no_phone")].count("\n")
    store = Store()
    store.open(a.path, TEXT)
    refs = references(store, [tmp_path], a, a.display, use, "utf-16")
    assert len(refs) == 3  # the declaration, the principle's list, the question's value
    edit = rename(store, [tmp_path], a, a.display, use, "no_phone_numbers", "utf-16")
    assert edit is not None and edit.changes is not None
    (edits,) = edit.changes.values()
    assert len(edits) == 3 and {e.new_text for e in edits} == {"no_phone_numbers"}


def test_symbols_and_semantic_tokens_include_checks(a):
    symbols = {s.name: s for s in document_symbols(a, "utf-16")}
    check = symbols["no_phone"]
    assert check.detail == "check" and check.kind == T.SymbolKind.Boolean
    assert {c.name for c in check.children or []} >= {"checker", "pattern", "applies_to"}
    data = semantic_tokens(a, "utf-16").data
    types = [data[i + 3] for i in range(0, len(data), 5)]
    assert types.count(KIND_TYPE["check"]) >= 3
