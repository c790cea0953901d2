"""The language server end to end: a pytest-lsp client drives `constlang lsp` over stdio."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types as T  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.asyncio(loop_scope="module")

BASE = '''constlang 1

principle harmful {
  critique = "Point out anything harmful in the reply."
  revision = "Rewrite the reply without the harmful parts."
}

model assistant {
  source         = "embedded:smollm2-135m-instruct"
  max_new_tokens = 32
}

dataset red_team {
  path = "data/red_team.jsonl"
}
'''

MAIN = '''constlang 1

constitution "lsp-test" {
  version = "0.1.0"
}

import "./base.const"

principle evasive {
  critique = "Did the reply refuse where it could simply have helped?"
  revision = "Answer the safe parts of the request directly, with no sermon."
}

stage critique_revision {
  model      = assistant
  prompts    = red_team
  principles = all
  revisions  = 1
}
'''


def _project() -> Path:
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="constlang-lsp-"))
    (root / "constlang.toml").write_text("", "utf-8")
    (root / "data").mkdir()
    (root / "data" / "red_team.jsonl").write_text(
        '{"prompt": "How do I pick the lock of my own shed?"}\n', "utf-8")
    (root / "base.const").write_text(BASE, "utf-8")
    (root / "main.const").write_text(MAIN, "utf-8")
    return root


PROJECT = _project()
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}


@pytest_lsp.fixture(loop_scope="module", scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "constlang", "lsp"], server_env=ENV))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(T.InitializeParams(
        capabilities=T.ClientCapabilities(
            window=T.WindowClientCapabilities(
                show_document=T.ShowDocumentClientCapabilities(support=True)),
            text_document=T.TextDocumentClientCapabilities(
                hover=T.HoverClientCapabilities(content_format=[T.MarkupKind.Markdown]),
                completion=T.CompletionClientCapabilities(
                    completion_item=T.ClientCompletionItemOptions(
                        snippet_support=True,
                        documentation_format=[T.MarkupKind.Markdown])))),
        root_uri=PROJECT.as_uri(),
        workspace_folders=[T.WorkspaceFolder(PROJECT.as_uri(), "project")],
        initialization_options={"debounceMs": 0}))
    # remember the version each publication is of, to tell fresh diagnostics from stale ones
    features = lsp_client.protocol.fm._features  # noqa: SLF001
    keep = features[T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def publish(params: T.PublishDiagnosticsParams) -> None:
        PUBLISHED[params.uri] = params.version
        keep(params)

    features[T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish
    yield
    await lsp_client.shutdown_session()


def uri(name: str) -> str:
    return (PROJECT / name).as_uri()


PUBLISHED: dict[str, int | None] = {}


async def diagnostics(client: LanguageClient, u: str, timeout: float = 20) -> list[T.Diagnostic]:
    """Wait for the next diagnostics published for `u`'s current version (call `forget`
    before the action)."""
    for _ in range(int(timeout / 0.02)):
        if u in client.diagnostics and PUBLISHED.get(u) == _versions.get(u):
            return list(client.diagnostics[u])
        await asyncio.sleep(0.02)
    logs = [m.message[:300] for m in client.log_messages]
    raise AssertionError(f"no diagnostics published for {u}; log: {logs}")


def forget(client: LanguageClient, u: str) -> None:
    client.diagnostics.pop(u, None)


_versions: dict[str, int] = {}


async def open_doc(client: LanguageClient, name: str, text: str) -> list[T.Diagnostic]:
    u = uri(name)
    forget(client, u)
    _versions[u] = 1
    client.text_document_did_open(T.DidOpenTextDocumentParams(
        T.TextDocumentItem(u, "constlang", 1, text)))
    return await diagnostics(client, u)


async def change(client: LanguageClient, name: str, text: str) -> list[T.Diagnostic]:
    u = uri(name)
    if u not in _versions:
        return await open_doc(client, name, text)
    forget(client, u)
    _versions[u] += 1
    client.text_document_did_change(T.DidChangeTextDocumentParams(
        T.VersionedTextDocumentIdentifier(version=_versions[u], uri=u),
        [T.TextDocumentContentChangeWholeDocument(text)]))
    return await diagnostics(client, u)


def pos(text: str, needle: str, nth: int = 0, delta: int = 1) -> T.Position:
    """The position `delta` characters into the nth occurrence of `needle`."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    at += delta
    line = text.count("\n", 0, at)
    return T.Position(line, at - (text.rfind("\n", 0, at) + 1))


async def test_windows_line_endings_keep_ranges_and_hover_in_place(client: LanguageClient):
    broken = MAIN.replace("model      = assistant", "model      = asistant")
    crlf = broken.replace("\n", "\r\n")
    diags = await open_doc(client, "crlf.const", crlf)
    (e101,) = [d for d in diags if d.code == "E101"]
    # lines and characters are those of the LF text: a CR only ever ends a line
    assert e101.range.start == pos(broken, "asistant", delta=0)
    assert e101.range.end == pos(broken, "asistant", delta=len("asistant"))
    fixed = MAIN.replace("\n", "\r\n")
    assert await change(client, "crlf.const", fixed) == []
    hover = await client.text_document_hover_async(T.HoverParams(
        T.TextDocumentIdentifier(uri("crlf.const")), pos(MAIN, "= assistant", delta=3)))
    assert hover is not None and "assistant" in hover.contents.value
    # closed again: the other tests count references in the open buffers
    client.text_document_did_close(T.DidCloseTextDocumentParams(
        T.TextDocumentIdentifier(uri("crlf.const"))))
    _versions.pop(uri("crlf.const"), None)


async def test_errors_are_located_and_cleared_when_fixed(client: LanguageClient):
    broken = MAIN.replace("model      = assistant", "model      = asistant")
    diags = await open_doc(client, "main.const", broken)
    (e101,) = [d for d in diags if d.code == "E101"]
    assert e101.range.start == pos(broken, "asistant", delta=0)
    assert e101.range.end == pos(broken, "asistant", delta=len("asistant"))
    assert e101.severity == T.DiagnosticSeverity.Error
    assert "did you mean `assistant`" in e101.message
    assert e101.code_description is not None and "errors.md#e101-unknown-name" in \
        e101.code_description.href
    assert await change(client, "main.const", MAIN) == []


async def test_duplicate_has_related_location_and_unused_is_tagged(client: LanguageClient):
    text = MAIN + '\nprinciple evasive {\n  critique = "x?"\n  revision = "y."\n}\n' \
        + '\ntemplate spare(prompt) "{{ prompt }}"\n'
    diags = await change(client, "main.const", text)
    (dup,) = [d for d in diags if d.code == "E102"]
    assert dup.related_information and dup.related_information[0].location.range.start == \
        pos(text, "evasive", delta=0)
    await change(client, "main.const", MAIN + '\ntemplate spare(prompt) "{{ prompt }}"\n')
    diags = client.diagnostics[uri("main.const")]
    (unused,) = [d for d in diags if d.code == "CL101"]
    assert list(unused.tags) == [T.DiagnosticTag.Unnecessary]
    assert "lint.md#cl101-unused-template" in unused.code_description.href
    await change(client, "main.const", MAIN)


async def test_hover_reference_setting_and_stage(client: LanguageClient):
    await change(client, "main.const", MAIN)
    doc = T.TextDocumentIdentifier(uri("main.const"))
    ref = await client.text_document_hover_async(T.HoverParams(doc, pos(MAIN, "assistant\n")))
    assert "model `assistant`" in ref.contents.value
    assert "embedded:smollm2-135m-instruct" in ref.contents.value
    setting = await client.text_document_hover_async(T.HoverParams(doc, pos(MAIN, "revisions")))
    assert "Critique/revision rounds per prompt" in setting.contents.value
    assert "`4`" in setting.contents.value and ">= 1 and <= 64" in setting.contents.value
    stage = await client.text_document_hover_async(
        T.HoverParams(doc, pos(MAIN, "critique_revision {")))
    # one prompt, 1 answer + 1×(critique + revision) = 3 calls, as `constlang plan` says
    assert "1 prompts, 3 model calls" in stage.contents.value
    assert "`model` = assistant" in stage.contents.value


async def test_definition_and_references_across_an_import(client: LanguageClient):
    await change(client, "main.const", MAIN)
    doc = T.TextDocumentIdentifier(uri("main.const"))
    found = await client.text_document_definition_async(
        T.DefinitionParams(doc, pos(MAIN, "red_team\n")))
    assert found.uri == uri("base.const")
    assert found.range.start == pos(BASE, "red_team {", delta=0)
    refs = await client.text_document_references_async(T.ReferenceParams(
        text_document=T.TextDocumentIdentifier(uri("base.const")),
        position=pos(BASE, "assistant {"), context=T.ReferenceContext(include_declaration=True)))
    assert {(r.uri, r.range.start.line) for r in refs} == {
        (uri("base.const"), pos(BASE, "assistant {").line),
        (uri("main.const"), pos(MAIN, "assistant\n").line)}


async def test_rename_everywhere_and_refuse_a_clash(client: LanguageClient):
    await change(client, "main.const", MAIN)
    doc = T.TextDocumentIdentifier(uri("main.const"))
    edit = await client.text_document_rename_async(
        T.RenameParams(doc, pos(MAIN, "assistant\n"), "helper"))
    assert set(edit.changes) == {uri("main.const"), uri("base.const")}
    assert all(e.new_text == "helper" for edits in edit.changes.values() for e in edits)
    with pytest.raises(Exception, match="already exists"):
        await client.text_document_rename_async(
            T.RenameParams(doc, pos(MAIN, "evasive"), "harmful"))
    with pytest.raises(Exception, match="not a valid name"):
        await client.text_document_rename_async(
            T.RenameParams(doc, pos(MAIN, "evasive"), "two words"))


async def test_symbols(client: LanguageClient):
    await change(client, "main.const", MAIN)
    outline = await client.text_document_document_symbol_async(
        T.DocumentSymbolParams(T.TextDocumentIdentifier(uri("main.const"))))
    assert [s.name for s in outline] == ["lsp-test", "evasive", "critique_revision"]
    found = await client.workspace_symbol_async(T.WorkspaceSymbolParams("red"))
    assert [(s.name, s.location.uri) for s in found] == [("red_team", uri("base.const"))]


async def complete(client: LanguageClient, text: str, needle: str, delta: int) -> list[str]:
    await change(client, "main.const", text)
    got = await client.text_document_completion_async(T.CompletionParams(
        T.TextDocumentIdentifier(uri("main.const")), pos(text, needle, delta=delta)))
    items = got.items if isinstance(got, T.CompletionList) else got
    return [i.label for i in items or []]


async def test_completion_in_each_position(client: LanguageClient):
    top = await complete(client, MAIN + "\npri", "\npri", 4)
    assert {"principle", "stage", "import", "template"} <= set(top)
    text = MAIN.replace("  revisions  = 1\n", "  revisions  = 1\n  sam\n")
    settings = await complete(client, text, "  sam", 5)
    assert "sampling" in settings and "examples" in settings
    assert "revisions" not in settings and "model" not in settings  # already set
    text = MAIN.replace("  revisions  = 1\n", "  revisions  = 1\n  sampling = \n")
    assert await complete(client, text, "sampling = ", 11) == [
        "per_revision", "per_prompt", "in_order"]
    assert await complete(client, MAIN, "model      = ", 13) == ["assistant"]
    assert await complete(client, MAIN, "prompts    = ", 13) == ["red_team"]
    text = MAIN + '\ntemplate mine(prompt, principle) """\n{{ principle. }}\n"""\n'
    assert "critique" in await complete(client, text, "{{ principle.", 13)
    names = await complete(client, text, "{{ ", 3)
    assert names[:2] == ["prompt", "principle"]
    await change(client, "main.const", MAIN)


async def test_formatting_document_and_range(client: LanguageClient):
    messy = MAIN.replace("  revisions  = 1", "     revisions=1")
    await change(client, "main.const", messy)
    doc = T.TextDocumentIdentifier(uri("main.const"))
    opts = T.FormattingOptions(tab_size=2, insert_spaces=True)
    edits = await client.text_document_formatting_async(T.DocumentFormattingParams(doc, opts))
    assert len(edits) == 1 and edits[0].new_text == "  revisions  = 1\n"
    line = pos(messy, "revisions=1").line
    none = await client.text_document_range_formatting_async(T.DocumentRangeFormattingParams(
        doc, T.Range(T.Position(0, 0), T.Position(2, 0)), opts))
    assert list(none) == []
    some = await client.text_document_range_formatting_async(T.DocumentRangeFormattingParams(
        doc, T.Range(T.Position(line, 0), T.Position(line, 3)), opts))
    assert list(some) == list(edits)
    await change(client, "main.const", MAIN)


async def test_code_actions_apply_a_lint_fix_and_suppress(client: LanguageClient):
    text = MAIN.replace('with no sermon."\n', 'with no sermon."\n  tags     = ["tone", "tone"]\n')
    diags = await change(client, "main.const", text)
    (dup,) = [d for d in diags if d.code == "CL603"]
    actions = await client.text_document_code_action_async(T.CodeActionParams(
        T.TextDocumentIdentifier(uri("main.const")), dup.range, T.CodeActionContext([dup])))
    titles = [a.title for a in actions]
    fix = next(a for a in actions if a.title.startswith("CL603"))
    assert fix.kind == T.CodeActionKind.QuickFix and fix.is_preferred
    fixed = apply(text, fix.edit.changes[uri("main.const")])
    assert 'tags     = ["tone"]' in fixed
    assert not [d for d in await change(client, "main.const", fixed) if d.code == "CL603"]
    suppress = next(a for a in actions if a.title.startswith("suppress CL603 here"))
    quiet = apply(text, suppress.edit.changes[uri("main.const")])
    assert "# constlang: ignore[CL603]" in quiet
    assert not [d for d in await change(client, "main.const", quiet) if d.code == "CL603"]
    assert any(t.startswith("apply 1 safe constlang fix") for t in titles)
    await change(client, "main.const", MAIN)


async def test_did_you_mean_action(client: LanguageClient):
    broken = MAIN.replace("revisions  = 1", "revisons   = 1")
    diags = await change(client, "main.const", broken)
    (e103,) = [d for d in diags if d.code == "E103"]
    actions = await client.text_document_code_action_async(T.CodeActionParams(
        T.TextDocumentIdentifier(uri("main.const")), e103.range, T.CodeActionContext([e103])))
    (replace,) = [a for a in actions if a.title == "replace with `revisions`"]
    assert await change(client, "main.const",
                        apply(broken, replace.edit.changes[uri("main.const")])) == []


async def test_code_lens_renders_the_first_prompt(client: LanguageClient):
    await change(client, "main.const", MAIN)
    lenses = await client.text_document_code_lens_async(
        T.CodeLensParams(T.TextDocumentIdentifier(uri("main.const"))))
    (lens,) = lenses
    assert lens.command.title == "render prompt"
    text = await client.workspace_execute_command_async(T.ExecuteCommandParams(
        lens.command.command, lens.command.arguments))
    assert "How do I pick the lock of my own shed?" in text
    assert text.startswith("── respond · template respond_prompt · model assistant ──")
    assert client.shown_documents and client.shown_documents[-1].uri.endswith(
        "critique_revision.txt")


async def test_semantic_tokens(client: LanguageClient):
    await change(client, "main.const", MAIN)
    got = await client.text_document_semantic_tokens_full_async(
        T.SemanticTokensParams(T.TextDocumentIdentifier(uri("main.const"))))
    data = got.data
    assert data and len(data) % 5 == 0
    line = col = 0
    tokens = []
    for i in range(0, len(data), 5):
        dl, dc, length, kind, _ = data[i:i + 5]
        line, col = line + dl, (col + dc if dl == 0 else dc)
        tokens.append((MAIN.splitlines()[line][col:col + length], kind))
    from constlang.lsp.tokens import TOKEN_TYPES

    named = {(t, TOKEN_TYPES[k]) for t, k in tokens}
    assert {("assistant", "class"), ("red_team", "namespace"), ("revisions", "property"),
            ("evasive", "variable")} <= named


async def test_open_buffer_shadows_the_imported_file(client: LanguageClient):
    await open_doc(client, "base.const", BASE.replace("dataset red_team", "dataset prompts_a"))
    diags = await change(client, "main.const", MAIN)
    assert [d.code for d in diags] == ["E101"]  # red_team is gone from the unsaved base
    assert "in imported file" not in diags[0].message
    forget(client, uri("main.const"))
    await change(client, "base.const", BASE)
    assert await diagnostics(client, uri("main.const")) == []  # re-checked as its import changed


async def test_bad_input_keeps_the_server_alive(client: LanguageClient):
    await change(client, "main.const", "\x00\x01 }}}{{{ \"\"\" ===")
    await change(client, "main.const", "stage { = [[[[" * 1000)
    words = " ".join(f"word{i}" for i in range(700_000))
    big = MAIN + f'\n# {words}\nprinciple long {{\n  critique = "{words[:50_000]}?"\n' \
        '  revision = "r."\n}\n'
    assert len(big) > 5_000_000
    await change(client, "main.const", big)
    hover = await client.text_document_hover_async(T.HoverParams(
        T.TextDocumentIdentifier(uri("main.const")), pos(MAIN, "assistant\n")))
    assert hover is not None


async def test_a_deleted_import_is_reported(client: LanguageClient):
    (PROJECT / "gone.const").write_text(
        'constlang 1\nprinciple extra {\n  critique = "c?"\n  revision = "r."\n}\n', "utf-8")
    text = MAIN.replace('import "./base.const"', 'import "./base.const"\nimport "./gone.const"')
    assert await change(client, "main.const", text) == []
    (PROJECT / "gone.const").unlink()
    client.workspace_did_change_watched_files(T.DidChangeWatchedFilesParams(
        [T.FileEvent(uri("gone.const"), T.FileChangeType.Deleted)]))
    forget(client, uri("main.const"))
    diags = await diagnostics(client, uri("main.const"))
    assert [d.code for d in diags] == ["E201"]
    assert await change(client, "main.const", MAIN) == []


def apply(text: str, edits: list[T.TextEdit]) -> str:
    from constlang.lsp.positions import LineIndex

    lines = LineIndex(text)
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character),
                    reverse=True):
        text = text[:lines.offset(e.range.start)] + e.new_text + text[lines.offset(e.range.end):]
    return text
