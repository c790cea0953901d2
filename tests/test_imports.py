"""Imports, override and drop: resolution relative to the importing file, std/, diamonds,
merge semantics, cycles and the project-root boundary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from constlang.compile import CompileResult, compile_path
from constlang.semantics.paths import find_root
from constlang.semantics.resolve import MAX_IMPORT_DEPTH

HEADER = """constlang 1
constitution "t" {}
"""
PIPELINE = """
model m { source = "embedded:smollm2-135m-instruct" }
dataset d { path = "data/d.jsonl" }
stage critique_revision { model = m  prompts = d }
"""


def write(root: Path, files: dict[str, str]) -> None:
    """The files, and a one-row prompt file for each dataset they name (E207 wants it)."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        for data in re.findall(r'path = "(\w[\w/.-]*\.jsonl)"', text):
            (path.parent / data).parent.mkdir(parents=True, exist_ok=True)
            (path.parent / data).write_text('{"prompt": "p"}\n', "utf-8")


def run(root: Path, entry: str = "main.const", **kw: object) -> CompileResult:
    return compile_path(root / entry, root=root, **kw)  # type: ignore[arg-type]


def where(result: CompileResult) -> set[tuple[str, int, int]]:
    return {(d.code, d.span.line, d.span.column) for d in result.diagnostics if d.span}


def principle(name: str, critique: str = "c", **fields: object) -> str:
    extra = " ".join(f"{k} = {v}" for k, v in fields.items())
    return f'principle {name} {{ critique = "{critique}" revision = "r" {extra} }}\n'


def test_relative_imports_resolve_from_the_importing_file(project: Path) -> None:
    write(project, {
        "main.const": HEADER + 'import "lib/a.const"\n' + PIPELINE,
        "lib/a.const": 'constlang 1\nimport "b.const"\n' + principle("from_a"),
        "lib/b.const": 'constlang 1\nimport "../shared/c.const"\n' + principle("from_b"),
        "shared/c.const": "constlang 1\n" + principle("from_c"),
    })
    result = run(project)
    assert result.diagnostics == []
    assert result.plan is not None
    assert [p.id for p in result.plan.principles] == ["from_c", "from_b", "from_a"]
    files = {p.id: p.location.file for p in result.plan.principles if p.location}
    assert files == {"from_a": "lib/a.const", "from_b": "lib/b.const",
                     "from_c": "shared/c.const"}
    assert [s.path for s in result.plan.sources] == [
        "lib/a.const", "lib/b.const", "main.const", "shared/c.const", "std/prelude.const"]


def test_dataset_paths_are_relative_to_the_declaring_file(project: Path) -> None:
    write(project, {
        "main.const": HEADER + 'import "lib/data.const"\n' + principle("p")
        + 'model m { source = "embedded:smollm2-135m-instruct" }\n'
        + "stage critique_revision { model = m  prompts = d }\n",
        "lib/data.const": 'constlang 1\ndataset d { path = "prompts/x.jsonl" }\n',
    })
    result = run(project)
    assert result.plan is not None
    assert result.plan.datasets[0].path == "lib/prompts/x.jsonl"


def test_std_library_import(project: Path) -> None:
    write(project, {"main.const": HEADER + 'import "std/helpful.const"\n' + PIPELINE})
    result = run(project)
    assert result.diagnostics == []
    assert result.plan is not None
    assert {p.location.file for p in result.plan.principles if p.location} == {
        "std/helpful.const"}
    assert {q.id for q in result.plan.questions} == {"more_helpful", "more_accurate"}
    assert "std/helpful.const" in [s.path for s in result.plan.sources]


def test_diamond_imports_are_not_conflicts(project: Path) -> None:
    write(project, {
        "main.const": HEADER + 'import "a.const"\nimport "b.const"\n' + PIPELINE,
        "a.const": 'constlang 1\nimport "base.const"\n',
        "b.const": 'constlang 1\nimport "./base.const"\n',
        "base.const": "constlang 1\n" + principle("shared"),
    })
    result = run(project)
    assert result.diagnostics == []
    assert result.plan is not None
    assert [p.id for p in result.plan.principles] == ["shared"]


def test_two_files_declaring_one_name_conflict(project: Path) -> None:
    write(project, {
        "main.const": HEADER + 'import "a.const"\nimport "b.const"\ndrop principle p\n',
        "a.const": "constlang 1\n" + principle("p"),
        "b.const": "constlang 1\n" + principle("p", "other"),
    })
    result = run(project)
    assert where(result) == {("E204", 4, 8)}
    d = result.diagnostics[0]
    assert "a.const" in d.message and "b.const" in d.message
    assert d.help is not None and "`drop` cannot" in d.help  # it must not advise a fix that fails


def test_override_merges_fields_and_keeps_the_rest(project: Path) -> None:
    write(project, {
        "main.const": HEADER + 'import "base.const"\n'
        "override principle p { weight = 3.0 }\n"
        'override question q { kind = pointwise  good_answer = "No" }\n' + PIPELINE,
        "base.const": 'constlang 1\n' + principle("p", "base critique", tags='["x"]')
        + 'question q { text = "Is it bad?" tags = ["t"] }\n',
    })
    result = run(project)
    assert result.diagnostics == []
    assert result.plan is not None
    p = result.plan.principles[0]
    assert (p.critique, p.revision, p.tags, p.weight) == ("base critique", "r", ["x"], 3.0)
    assert p.location is not None and p.location.file == "base.const"
    q = result.plan.questions[0]
    assert (q.text, q.kind, q.options, q.good_answer, q.tags) == (
        "Is it bad?", "pointwise", ["Yes", "No"], "No", ["t"])


def test_overrides_chain_through_imports(project: Path) -> None:
    write(project, {
        "main.const": HEADER + 'import "middle.const"\noverride principle p { weight = 5 }\n'
        + PIPELINE,
        "middle.const": 'constlang 1\nimport "base.const"\n'
        'override principle p { critique = "middle" }\n',
        "base.const": "constlang 1\n" + principle("p", "base", tags='["b"]'),
    })
    result = run(project)
    assert result.diagnostics == []
    assert result.plan is not None
    p = result.plan.principles[0]
    assert (p.critique, p.tags, p.weight) == ("middle", ["b"], 5.0)
    sym = result.world.scope["principle"]["p"] if result.world else None
    assert sym is not None and len(sym.overridden_by) == 2


def test_override_template_replaces_the_whole_template(project: Path) -> None:
    write(project, {
        "main.const": HEADER + 'import "base.const"\n'
        'override template greet(prompt) "Hi {{ prompt }}"\n' + principle("p"),
        "base.const": "constlang 1\n"
        'template greet(prompt, examples) "{{ examples }} {{ prompt }}"\n',
    })
    result = run(project)
    assert result.diagnostics == []
    assert result.world is not None
    tpl = result.world.scope["template"]["greet"].node
    assert tpl.body.value == "Hi {{ prompt }}"
    assert [p.name for p in tpl.params] == ["prompt"]


def test_a_local_template_replaces_the_prelude_default(project: Path) -> None:
    write(project, {"main.const": HEADER + 'template respond_prompt(prompt) "Q: {{ prompt }}"\n'
                    + principle("p") + PIPELINE})
    result = run(project)
    assert result.plan is not None
    step = result.plan.program("critique_revision").steps[0]
    assert (step.name, step.source) == ("respond", "Q: {{ prompt }}")


def test_drop_removes_and_frees_the_name(project: Path) -> None:
    write(project, {
        "main.const": HEADER + 'import "base.const"\ndrop principle old\ndrop question q\n'
        + principle("old", "new one") + PIPELINE,
        "base.const": "constlang 1\n" + principle("old", "old one") + principle("kept")
        + 'question q { text = "?" }\n',
    })
    result = run(project)
    assert result.diagnostics == []
    assert result.plan is not None
    assert {p.id: p.critique for p in result.plan.principles} == {"kept": "c",
                                                                   "old": "new one"}
    assert result.plan.questions == []


def test_declaring_an_imported_name_without_override(project: Path) -> None:
    write(project, {"main.const": 'constlang 1\nimport "base.const"\n' + principle("p"),
                    "base.const": "constlang 1\n" + principle("p")})
    result = run(project)
    assert where(result) == {("E102", 3, 11)}
    assert result.diagnostics[0].help is not None
    assert "override principle p" in result.diagnostics[0].help


def test_override_and_drop_of_unknown_names(project: Path) -> None:
    write(project, {"main.const": 'constlang 1\nimport "base.const"\n'
                    "override principle harmfull { weight = 1 }\ndrop question nope\n",
                    "base.const": "constlang 1\n" + principle("harmful")})
    result = run(project)
    assert where(result) == {("E110", 3, 20), ("E110", 4, 15)}
    assert "did you mean `harmful`?" in [d.help for d in result.diagnostics]


def test_import_cycles(project: Path) -> None:
    write(project, {"main.const": 'constlang 1\nimport "a.const"\n',
                    "a.const": 'constlang 1\nimport "b.const"\n',
                    "b.const": 'constlang 1\nimport "main.const"\n'})
    result = run(project)
    assert [(d.code, d.file.endswith("b.const")) for d in result.diagnostics] == [("E202", True)]
    assert "main.const → " in result.diagnostics[0].message


def test_import_of_itself(project: Path) -> None:
    write(project, {"main.const": 'constlang 1\nimport "main.const"\n'})
    assert where(run(project)) == {("E202", 2, 8)}


def test_missing_imports_and_std_help(project: Path) -> None:
    write(project, {"main.const": 'constlang 1\nimport "gone.const"\nimport "std/helpfull.const"\n'
                    'import "notes.txt"\n'})
    result = run(project)
    assert where(result) == {("E201", 2, 8), ("E201", 3, 8), ("E201", 4, 8)}
    std = next(d for d in result.diagnostics if "helpfull" in d.message)
    assert std.help is not None and "std/helpful.const" in std.help


def test_outside_root_is_refused_unless_allowed(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    write(tmp_path, {"proj/constlang.toml": "", "shared.const": "constlang 1\n" + principle("s"),
                     "proj/main.const": 'constlang 1\nimport "../shared.const"\n'})
    assert where(run(project)) == {("E203", 2, 8)}
    allowed = run(project, allow_outside_root=True)
    assert allowed.diagnostics == []
    assert allowed.world is not None and "s" in allowed.world.scope["principle"]


def test_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    write(tmp_path, {"proj/constlang.toml": "", "outside/x.const": "constlang 1\n",
                     "proj/main.const": 'constlang 1\nimport "link/x.const"\n'})
    (project / "link").symlink_to(tmp_path / "outside")
    assert where(run(project)) == {("E203", 2, 8)}


def test_project_root_is_the_nearest_marker(tmp_path: Path) -> None:
    write(tmp_path, {"a/pyproject.toml": "", "a/b/c/main.const": "constlang 1\n"})
    assert find_root(tmp_path / "a/b/c/main.const") == (tmp_path / "a").resolve()
    write(tmp_path, {"a/b/constlang.toml": ""})
    assert find_root(tmp_path / "a/b/c/main.const") == (tmp_path / "a/b").resolve()


def test_imported_constitution_header_is_ignored(project: Path) -> None:
    write(project, {"main.const": 'constlang 1\nconstitution "main" {}\nimport "base.const"\n',
                    "base.const": 'constlang 1\nconstitution "base" { version = "9" }\n'})
    result = run(project)
    assert result.plan is not None
    assert (result.plan.constitution.name, result.plan.constitution.version) == ("main", "0.0.0")


def test_errors_inside_an_imported_file_are_reported_there(project: Path) -> None:
    write(project, {"main.const": 'constlang 1\nimport "lib/bad.const"\n',
                    "lib/bad.const": 'constlang 1\nprinciple p { critique = 1 revision = "r" }\n'})
    result = run(project)
    assert [(d.code, Path(d.file).name, d.span.line if d.span else 0)
            for d in result.diagnostics] == [("E105", "bad.const", 2)]


def test_in_memory_text_resolves_like_the_file_it_stands_for(project: Path) -> None:
    text = (HEADER + 'import "../lib/base.const"\n'
            + 'model m { source = "embedded:smollm2-135m-instruct" }\n'
            + 'dataset d { path = "prompts.jsonl" }\n'
            + "stage critique_revision { model = m  prompts = d }\n")
    write(project, {"sub/main.const": text, "lib/base.const": "constlang 1\n" + principle("p")})
    from_disk = run(project, "sub/main.const")
    in_memory = compile_path(project / "sub" / "main.const", text=text, root=project)
    assert from_disk.plan is not None and in_memory.plan is not None
    assert in_memory.plan.to_json() == from_disk.plan.to_json()
    assert in_memory.plan.datasets[0].path == "sub/prompts.jsonl"


def test_in_memory_text_that_imports_its_own_file_is_a_cycle(project: Path) -> None:
    write(project, {"main.const": "constlang 1\n"})
    result = compile_path(project / "main.const", text='constlang 1\nimport "main.const"\n',
                          root=project)
    assert where(result) == {("E202", 2, 8)}


# -- issue #17: long chains are followed without recursion, up to a documented bound ---------

def chain(project: Path, files: int, cycle: bool = False) -> None:
    """main.const → c1.const → ... : `files` files in all; the last one declares `last`, or
    imports main.const again when `cycle`."""
    names = ["main.const"] + [f"c{i}.const" for i in range(1, files)]
    texts = {a: f'constlang 1\nimport "{names[i + 1]}"\n' for i, a in enumerate(names[:-1])}
    texts[names[-1]] = 'constlang 1\nimport "main.const"\n' if cycle else \
        "constlang 1\n" + principle("last")
    write(project, texts)


def test_a_chain_of_a_thousand_files_resolves(project: Path) -> None:
    for files in (600, MAX_IMPORT_DEPTH):  # 600 was "nesting is too deep to parse"
        chain(project, files)
        result = run(project)
        assert result.diagnostics == [], result.diagnostics[:2]
        assert result.plan is not None
        assert [p.id for p in result.plan.principles] == ["last"]
        assert len(result.plan.sources) == files + 1  # and the prelude


def test_a_chain_one_file_too_long_is_E206_at_the_import_that_goes_too_far(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)  # messages name files relative to the working folder
    chain(project, MAX_IMPORT_DEPTH + 1)
    result = run(project)
    assert [(d.code, d.span.file, d.span.line, d.span.column) for d in result.diagnostics
            if d.span] == [("E206", f"c{MAX_IMPORT_DEPTH - 1}.const", 2, 8)]
    message = result.diagnostics[0].message
    assert message.startswith(f"import chain deeper than {MAX_IMPORT_DEPTH:,} files: main.const"
                              " → c1.const → c2.const → … (995 more) → ")
    assert message.endswith(f"→ c{MAX_IMPORT_DEPTH}.const")


def test_a_long_cycle_is_E202_with_a_short_message(project: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    chain(project, 900, cycle=True)
    result = run(project)
    assert [d.message for d in result.diagnostics] == [
        "import cycle: main.const → c1.const → c2.const → … (895 more) → c898.const → "
        "c899.const → main.const"]


def test_many_files_side_by_side_are_not_bounded(project: Path) -> None:
    files = {f"lib/p{i}.const": "constlang 1\n" + principle(f"p{i}")
             for i in range(MAX_IMPORT_DEPTH + 200)}
    files["main.const"] = "constlang 1\n" + "".join(f'import "lib/p{i}.const"\n'
                                                    for i in range(MAX_IMPORT_DEPTH + 200))
    write(project, files)
    result = run(project)
    assert result.diagnostics == []
    assert result.plan is not None and len(result.plan.principles) == MAX_IMPORT_DEPTH + 200
