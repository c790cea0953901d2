"""The server's pure parts: overlay compiles, positions in UTF-16, and cursor contexts."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pygls")

from lsprotocol import types as T  # noqa: E402

from constlang.compile import compile_path  # noqa: E402
from constlang.lsp.context import context_at  # noqa: E402
from constlang.lsp.positions import LineIndex  # noqa: E402

ENTRY = 'constlang 1\nimport "./lib.const"\nstage critique_revision {\n  model = m\n' \
        '  prompts = d\n}\nconstitution "c" {}\n'
LIB = 'constlang 1\nmodel m { source = "embedded:smollm2-135m-instruct" }\n' \
      'dataset d { path = "x.jsonl" }\nprinciple p { critique = "c?" revision = "r." }\n'


def test_an_overlay_shadows_the_file_on_disk_and_stands_in_for_a_missing_one(project: Path):
    entry = project / "main.const"
    lib = (project / "lib.const").resolve()
    (project / "x.jsonl").write_text('{"prompt": "p"}\n', "utf-8")
    missing = compile_path(entry, text=ENTRY)
    assert "E201" in [d.code for d in missing.diagnostics]
    unsaved = compile_path(entry, text=ENTRY, overlay={lib: LIB})
    assert unsaved.ok, unsaved.diagnostics
    lib.write_text(LIB, "utf-8")
    edited = compile_path(entry, text=ENTRY, overlay={lib: LIB.replace("model m", "model n")})
    assert [d.code for d in edited.diagnostics if d.severity == "error"] == ["E101"]


def test_positions_count_utf16_units():
    text = 'a = "😀é"\nb'
    lines = LineIndex(text)
    end = text.index('"', 5)  # the closing quote
    assert lines.position(end) == T.Position(0, 8)  # 😀 is two UTF-16 units
    assert lines.offset(T.Position(0, 8)) == end
    assert LineIndex(text, "utf-32").position(end) == T.Position(0, 7)
    assert lines.offset(T.Position(1, 0)) == text.index("b")
    assert lines.offset(T.Position(9, 9)) == len(text)


@pytest.mark.parametrize(("text", "where", "extra"), [
    ("constlang 1\npri|", "top", {}),
    ("stage sft {\n  fr|\n}", "field", {"block_kind": "stage", "block_name": "sft"}),
    ("stage s {\n  kind = sft\n  rounds = |\n}", "value", {"setting": "rounds"}),
    ("stage s {\n  principles = [a, |", "value", {"setting": "principles", "in_list": True}),
    ('template t(prompt) """\n{{ pr|', "template", {"template_params": ["prompt"]}),
    ('template t(principle) "{{ principle.cr|', "template", {"object_name": "principle"}),
    ('principle p {\n  critique = "model = |', "string", {}),
    ("# a comment model = |", "comment", {}),
    ("drop principle |", "drop", {"decl_kind": "principle"}),
])
def test_cursor_contexts(text: str, where: str, extra: dict[str, object]):
    ctx = context_at(text.replace("|", ""), text.index("|"))
    assert ctx.where == where
    for key, value in extra.items():
        assert getattr(ctx, key) == value


LIGHT = """
import sys
from pathlib import Path
from constlang.lsp.features import create_server
from constlang.lsp import analysis, completion, hover, lens, tokens
create_server()
path = Path(sys.argv[1]).resolve()
text = path.read_text("utf-8")
a = analysis.analyse(path, text, {})
assert a.result.plan is not None
hover.hover_at(a, a.display, text.index("critique_revision {"))
completion.complete(a, text, text.index("model") + 5)
tokens.semantic_tokens(a, "utf-16")
lens.render_prompt(a, "critique_revision")
heavy = sorted(m for m in ("torch", "transformers", "trl", "accelerate", "datasets", "peft")
               if m in sys.modules)
assert not heavy, heavy
print("light")
"""


def test_the_server_never_imports_the_training_stack():
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", LIGHT,
                          str(repo / "constitutions" / "harmless.const")],
                         capture_output=True, text=True, cwd=repo, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "light\n"


def test_the_render_preview_cannot_be_redirected_through_the_shared_temp_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Issue #17, class 3: another user plants a symlink in /tmp under the preview folder's
    name, or swaps the folder for one later; the preview still lands in a private folder."""
    import os
    import shutil
    import stat
    import tempfile

    from constlang.lsp import lens

    shared, victim = tmp_path / "tmp", tmp_path / "victim"
    shared.mkdir()
    victim.mkdir()
    (shared / "constlang-render").symlink_to(victim)  # the folder name the server once used
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    monkeypatch.setattr(lens, "_preview_dir", None, raising=False)

    def private(folder: Path) -> bool:
        st = os.lstat(folder)
        return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and \
            stat.S_IMODE(st.st_mode) == 0o700 and folder.parent == shared

    first = lens.write_preview("critique_revision", "one")
    assert first.read_text("utf-8") == "one" and private(first.parent)
    assert lens.write_preview("critique_revision", "two") == first  # reused while intact
    shutil.rmtree(first.parent)
    first.parent.symlink_to(victim)  # a temp cleaner removed it; someone took the name
    second = lens.write_preview("../critique_revision", "three")
    assert second.read_text("utf-8") == "three" and private(second.parent)
    assert second.parent != first.parent and second.name == "___critique_revision.txt"
    assert list(victim.iterdir()) == []


def test_an_unclosed_brace_shows_where_the_parser_gave_up(tmp_path: Path) -> None:
    from constlang.lsp import analysis
    from constlang.lsp.diagnostics import to_lsp

    (tmp_path / "constlang.toml").write_text("", "utf-8")
    path = tmp_path / "main.const"
    text = 'constlang 1\nprinciple p {\n  critique = "c"\n\nmodel m { source = "x" }\n'
    path.write_text(text, "utf-8")
    [shown] = to_lsp(analysis.analyse(path, text, {}), "utf-16")
    assert shown["range"]["start"] == {"line": 1, "character": 12}  # the `{`
    [related] = shown["relatedInformation"]
    assert related["message"] == "where the parser gave up"
    assert related["location"]["range"]["start"] == {"line": 4, "character": 0}
