"""Check, data files: a dataset whose file is missing (or is no regular file) is E207 when a
stage reads it and W002 when none does, located at its `path` and naming the path looked for;
the file's contents are never read."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from constlang.compile import CompileResult

Compile = Callable[..., CompileResult]
HEAD = ('constlang 1\nconstitution "t" {}\n'
        'model m { source = "embedded:smollm2-135m-instruct" }\n'
        'principle p { critique = "c" revision = "r" }\n')
READ = "stage critique_revision { model = m  prompts = d }\n"


def found(result: CompileResult) -> list[tuple[str, int, int, str]]:
    return [(d.code, d.span.line, d.span.column, d.message) for d in result.diagnostics
            if d.span is not None]


def test_a_missing_file_a_stage_reads_is_an_error_at_its_path(
        compile_text: Compile, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)  # the root is shown relative to the working folder
    result = compile_text(HEAD + 'dataset d { path = "data/red.jsonl" }\n' + READ, data=False)
    assert found(result) == [("E207", 5, 20, "dataset `d`: no file `data/red.jsonl` in the "
                              "project root `.`; stage `critique_revision` reads it as `prompts`")]
    assert result.plan is None


def test_a_missing_file_nothing_reads_is_a_warning(compile_text: Compile) -> None:
    result = compile_text(HEAD + 'dataset d { path = "spare.jsonl" }\n', data=False)
    [(code, line, column, message)] = found(result)
    assert (code, line, column) == ("W002", 5, 20)
    assert "no file `spare.jsonl`" in message and "no stage reads" in message
    assert result.plan is not None  # a warning does not stop the plan


def test_an_existing_file_or_a_link_to_one_inside_the_project_is_fine(
        compile_text: Compile, project: Path) -> None:
    (project / "data").mkdir()
    (project / "data" / "red.jsonl").write_text('{"prompt": "p"}\n', "utf-8")
    (project / "link.jsonl").symlink_to(project / "data" / "red.jsonl")
    for path in ("data/red.jsonl", "link.jsonl"):
        result = compile_text(HEAD + f'dataset d {{ path = "{path}" }}\n' + READ, data=False)
        assert found(result) == []


@pytest.mark.parametrize("make", ["folder", "fifo", "dangling link"])
def test_a_path_that_is_no_regular_file_is_an_error(compile_text: Compile, project: Path,
                                                    make: str) -> None:
    target = project / "d.jsonl"
    if make == "folder":
        target.mkdir()
    elif make == "fifo":
        os.mkfifo(target)  # opening it to read would block: the check only stats it
    else:
        target.symlink_to(project / "gone.jsonl")
    result = compile_text(HEAD + 'dataset d { path = "d.jsonl" }\n' + READ, data=False)
    [(code, line, column, message)] = found(result)
    assert (code, line, column) == ("E207", 5, 20)
    expected = {"folder": "is a folder, not a file", "fifo": "is not a regular file",
                "dangling link": "no file `gone.jsonl`"}[make]
    assert expected in message


def test_the_path_is_relative_to_the_declaring_file_and_shown_from_the_root(
        compile_text: Compile, project: Path) -> None:
    (project / "lib").mkdir()
    (project / "lib" / "data.const").write_text(
        'constlang 1\ndataset d { path = "prompts.jsonl" }\n', "utf-8")
    result = compile_text(HEAD + 'import "lib/data.const"\n' + READ, data=False)
    [d] = result.diagnostics
    assert d.code == "E207" and d.span is not None and d.span.file.endswith("data.const")
    assert "no file `lib/prompts.jsonl`" in d.message
    (project / "lib" / "prompts.jsonl").write_text('{"prompt": "p"}\n', "utf-8")
    assert compile_text(HEAD + 'import "lib/data.const"\n' + READ, data=False).diagnostics == []


def test_a_dataset_outside_the_root_gets_E205_alone(compile_text: Compile) -> None:
    result = compile_text(HEAD + 'dataset d { path = "/nonexistent/x.jsonl" }\n' + READ,
                          data=False)
    assert [d.code for d in result.diagnostics] == ["E205"]


def test_the_language_server_shows_it(project: Path) -> None:
    pytest.importorskip("pygls")
    from constlang.lsp import analysis
    from constlang.lsp.diagnostics import to_lsp

    path = project / "main.const"
    text = HEAD + 'dataset d { path = "data/red.jsonl" }\n' + READ
    path.write_text(text, "utf-8")
    [shown] = to_lsp(analysis.analyse(path, text, {}), "utf-16")
    assert shown["code"] == "E207" and shown["range"]["start"] == {"line": 4, "character": 19}


def test_a_file_allowed_outside_the_root_is_named_by_its_full_path(project: Path) -> None:
    from constlang.compile import compile_path

    text = HEAD + 'dataset d { path = "/nonexistent/x.jsonl" }\n' + READ
    result = compile_path(project / "main.const", text=text, root=project,
                          allow_outside_root=True)
    [d] = result.diagnostics
    assert d.code == "E207" and "dataset `d`: no file `/nonexistent/x.jsonl`;" in d.message
