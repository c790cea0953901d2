"""Checks, the docs and a custom checker: docs/checks.md matches the checker records, and an
installed checker (an entry point) is named by a constitution, compiled and validated."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
from pydantic import Field

from constlang.check_docs import PATH, generated_block, page_with_block
from constlang.checks import ArgError, Args, Checker, ReplyContext
from constlang.checks.builtin import BUILTIN
from constlang.compile import compile_path


def test_checks_page_is_up_to_date() -> None:
    text = PATH.read_text("utf-8")
    assert page_with_block(text) == text, (
        "docs/checks.md is out of date: run python -m constlang.check_docs --write")


def test_the_page_documents_every_builtin_checker_and_argument() -> None:
    block = generated_block()
    for name, cls in BUILTIN.items():
        assert f"### `{name}`" in block and cls.summary in block
        for arg, info in cls.Args.model_fields.items():
            assert info.description, f"{name}.{arg} has no description"
            assert f"| `{info.alias or arg}` |" in block


class CitesArgs(Args):
    min_sources: int = Field(1, ge=1, le=50, description="At least this many links.")
    domain: str = Field("", description="Count only links to this domain.")


class CitesSources(Checker):
    """The custom checker of docs/checks.md, as a package would write it."""

    name = "acme.cites"
    summary = "The reply cites at least `min_sources` web links."
    Args = CitesArgs

    def __init__(self, args: CitesArgs) -> None:
        super().__init__(args)
        if "/" in args.domain:
            raise ArgError("domain", "a domain has no `/`", help='e.g. domain = "who.int"')

    def passes(self, reply: str, context: ReplyContext) -> bool:
        links = [w for w in reply.split() if w.startswith("https://")]
        if self.args.domain:
            links = [w for w in links if self.args.domain in w]
        return len(links) >= self.args.min_sources


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from constlang.checks import registry

    ep = metadata.EntryPoint("acme.cites", "tests.test_check_docs:CitesSources", registry.GROUP)
    monkeypatch.setattr(registry, "installed", lambda: {"acme.cites": ep})


def compiled(tmp_path: Path, fields: str):
    path = tmp_path / "main.const"
    text = ('constlang 1\nconstitution "c" { version = "0.1.0" }\n'
            f'check cites {{\n  checker = "acme.cites"\n{fields}}}\n')
    path.write_text(text, "utf-8")
    return compile_path(path, text=text)


def test_an_installed_checker_compiles_with_its_arguments(tmp_path: Path, installed: None):
    result = compiled(tmp_path, "  min_sources = 2\n")
    assert result.ok, result.diagnostics
    (check,) = result.plan.checks
    assert (check.checker, check.args) == ("acme.cites", {"min_sources": 2, "domain": ""})


@pytest.mark.parametrize("fields, code, line, words", [
    ("  min_sources = 0\n", "E106", 5, "`min_sources` must be >= 1"),
    ('  domain = "who.int/x"\n', "E116", 5, "a domain has no `/`"),
])
def test_an_installed_checker_validates_its_arguments(tmp_path: Path, installed: None,
                                                      fields: str, code: str, line: int,
                                                      words: str):
    result = compiled(tmp_path, fields)
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert errors and errors[0].code == code and words in errors[0].message
    assert errors[0].span is not None and errors[0].span.line == line


def test_an_unknown_argument_of_an_installed_checker_is_an_error(tmp_path: Path,
                                                                 installed: None):
    result = compiled(tmp_path, "  min_source = 2\n")
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert errors and "min_source" in errors[0].message
    assert "min_sources" in (errors[0].help or "")


def test_without_the_package_the_checker_is_unknown(tmp_path: Path, monkeypatch):
    from constlang.checks import registry

    monkeypatch.setattr(registry, "installed", lambda: {})
    result = compiled(tmp_path, "  min_sources = 2\n")
    assert [d.code for d in result.diagnostics if d.severity == "error"] == ["E115"]
