"""Features: every LSP request and notification the server answers, each a thin, guarded
handler that finds the buffer's analysis and hands it to the module that does the work."""

from __future__ import annotations

from typing import Any

from lsprotocol import types as T

from constlang.lsp import actions, completion, hover, lens, navigation, tokens
from constlang.lsp.positions import path_of, uri_of
from constlang.lsp.server import ConstServer, feature
from constlang.source import normalize_text


def create_server() -> ConstServer:
    """A server with every feature registered (not started)."""
    ls = ConstServer()
    _lifecycle(ls)
    _commands(ls)
    _language(ls)
    _symbols(ls)
    _edits(ls)
    return ls


def _where(ls: ConstServer, uri: str, position: T.Position) -> tuple[Any, str, int] | None:
    """(analysis, display path, offset) of a position in a document."""
    a = ls.analysis(uri)
    if a is None or a.display is None:
        return None
    text = ls.buffer(uri) if path_of(uri) in ls.store.buffers else a.text
    return a, a.display, ls.lines(text).offset(position)


def _lifecycle(ls: ConstServer) -> None:
    """Initialisation options, and the documents the client opens, changes, saves and closes."""

    @feature(ls, T.INITIALIZE)
    def initialize(params: T.InitializeParams) -> None:
        options = params.initialization_options or {}
        if isinstance(options, dict):
            if isinstance(options.get("debounceMs"), (int, float)):
                ls.debounce_s = max(0.0, float(options["debounceMs"]) / 1000)
            if isinstance(options.get("docsBaseUrl"), str):
                ls.docs_base = options["docsBaseUrl"]

    @feature(ls, T.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: T.DidOpenTextDocumentParams) -> None:
        path = path_of(params.text_document.uri)
        if path is not None:
            ls.store.open(path, normalize_text(params.text_document.text))
            ls.schedule(path, 0)

    @feature(ls, T.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: T.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        path = path_of(uri)
        if path is not None:
            ls.store.open(path, ls.buffer(uri))
            ls.schedule(path)

    @feature(ls, T.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: T.DidSaveTextDocumentParams) -> None:
        ls.store.touched()

    @feature(ls, T.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: T.DidCloseTextDocumentParams) -> None:
        path = path_of(params.text_document.uri)
        if path is not None:
            ls.store.close(path)
            ls.text_document_publish_diagnostics(T.PublishDiagnosticsParams(
                params.text_document.uri, []))
            for other in list(ls.store.buffers):
                ls.schedule(other)

    @feature(ls, T.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched(params: T.DidChangeWatchedFilesParams) -> None:
        ls.log(f"constlang: {len(params.changes)} file(s) changed on disk; re-checking")
        ls.store.touched()
        for other in list(ls.store.buffers):
            ls.schedule(other)



def _commands(ls: ConstServer) -> None:
    """The commands code lenses run: render a stage's prompt into a preview document."""

    @ls.command(lens.RENDER_COMMAND)
    def render(uri: str, stage: str) -> str | None:
        def run() -> str | None:
            a = ls.analysis(uri)
            if a is None:
                return None
            try:
                text = lens.render_prompt(a, stage)
            except ValueError as exc:
                ls.window_show_message(T.ShowMessageParams(T.MessageType.Warning, str(exc)))
                return None
            target = lens.write_preview(stage, text)
            caps = ls.client_capabilities.window
            if caps is not None and caps.show_document is not None:
                ls.window_show_document(T.ShowDocumentParams(uri_of(target), take_focus=True))
            return text
        from constlang.lsp.server import guarded

        return guarded(run, ls, "render prompt")()  # type: ignore[no-any-return]


def _language(ls: ConstServer) -> None:
    """Hover, go to definition, references and rename."""

    @feature(ls, T.TEXT_DOCUMENT_HOVER)
    def on_hover(params: T.HoverParams) -> T.Hover | None:
        at = _where(ls, params.text_document.uri, params.position)
        if at is None:
            return None
        a, display, offset = at
        found = hover.hover_at(a, display, offset)
        if found is None:
            return None
        text, span = found
        caps = ls.client_capabilities.text_document
        formats = caps.hover.content_format if caps and caps.hover else None
        kind = T.MarkupKind.Markdown if not formats or T.MarkupKind.Markdown in formats \
            else T.MarkupKind.PlainText
        return T.Hover(T.MarkupContent(kind, text),
                       ls.lines(a.text).span_range(span))

    @feature(ls, T.TEXT_DOCUMENT_DEFINITION)
    def on_definition(params: T.DefinitionParams) -> T.Location | None:
        at = _where(ls, params.text_document.uri, params.position)
        return navigation.definition(*at, ls.encoding) if at else None

    @feature(ls, T.TEXT_DOCUMENT_REFERENCES, default=[])
    def on_references(params: T.ReferenceParams) -> list[T.Location]:
        at = _where(ls, params.text_document.uri, params.position)
        if at is None:
            return []
        return navigation.references(ls.store, ls.roots(), *at, ls.encoding,
                                     params.context.include_declaration)

    @feature(ls, T.TEXT_DOCUMENT_PREPARE_RENAME)
    def on_prepare_rename(params: T.PrepareRenameParams) -> T.Range | None:
        at = _where(ls, params.text_document.uri, params.position)
        if at is None or at[0].index is None:
            return None
        a, display, offset = at
        occ = a.index.occurrence_at(display, offset)
        return ls.lines(a.text).span_range(occ.span) if occ else None

    @feature(ls, T.TEXT_DOCUMENT_RENAME, T.RenameOptions(prepare_provider=True))
    def on_rename(params: T.RenameParams) -> T.WorkspaceEdit | None:
        at = _where(ls, params.text_document.uri, params.position)
        if at is None:
            return None
        return navigation.rename(ls.store, ls.roots(), *at, params.new_name, ls.encoding)



def _symbols(ls: ConstServer) -> None:
    """Outline, workspace symbols, completion, code lenses and semantic tokens."""

    @feature(ls, T.TEXT_DOCUMENT_DOCUMENT_SYMBOL, default=[])
    def on_symbols(params: T.DocumentSymbolParams) -> list[T.DocumentSymbol]:
        a = ls.analysis(params.text_document.uri)
        return navigation.document_symbols(a, ls.encoding) if a else []

    @feature(ls, T.WORKSPACE_SYMBOL, default=[])
    def on_workspace_symbols(params: T.WorkspaceSymbolParams) -> list[T.WorkspaceSymbol]:
        return navigation.workspace_symbols(ls.store, ls.roots(), params.query, ls.encoding)

    @feature(ls, T.TEXT_DOCUMENT_COMPLETION,
             T.CompletionOptions(trigger_characters=[".", "=", "[", " ", "{"]), default=[])
    def on_completion(params: T.CompletionParams) -> list[T.CompletionItem]:
        uri = params.text_document.uri
        text = ls.buffer(uri)
        offset = ls.lines(text).offset(params.position)
        return completion.complete(ls.analysis(uri), text, offset)

    @feature(ls, T.TEXT_DOCUMENT_CODE_LENS, default=[])
    def on_code_lens(params: T.CodeLensParams) -> list[T.CodeLens]:
        a = ls.analysis(params.text_document.uri)
        return lens.code_lenses(a, params.text_document.uri, ls.encoding) if a else []

    @feature(ls, T.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, tokens.LEGEND)
    def on_tokens(params: T.SemanticTokensParams) -> T.SemanticTokens:
        a = ls.analysis(params.text_document.uri)
        return tokens.semantic_tokens(a, ls.encoding) if a else T.SemanticTokens(data=[])


def _edits(ls: ConstServer) -> None:
    from constlang.syntax.format import FormatError

    def formatted(uri: str, within: T.Range | None) -> list[T.TextEdit] | None:
        text = ls.buffer(uri)
        try:
            return actions.format_edits(text, ls.encoding, within)
        except FormatError as exc:
            ls.window_show_message(T.ShowMessageParams(
                T.MessageType.Warning, f"constlang: cannot format: {exc}"))
            return None

    @feature(ls, T.TEXT_DOCUMENT_FORMATTING)
    def on_format(params: T.DocumentFormattingParams) -> list[T.TextEdit] | None:
        return formatted(params.text_document.uri, None)

    @feature(ls, T.TEXT_DOCUMENT_RANGE_FORMATTING)
    def on_range_format(params: T.DocumentRangeFormattingParams) -> list[T.TextEdit] | None:
        return formatted(params.text_document.uri, params.range)

    @feature(ls, T.TEXT_DOCUMENT_CODE_ACTION, T.CodeActionOptions(code_action_kinds=[
        T.CodeActionKind.QuickFix, actions.FIX_ALL]), default=[])
    def on_code_action(params: T.CodeActionParams) -> list[T.CodeAction]:
        uri = params.text_document.uri
        path = path_of(uri)
        if path is None or path not in ls.store.buffers:
            return []
        text = ls.store.buffers[path]
        a = ls.store.latest.get(path)
        if a is None or a.text != text:
            a = ls.store.analyse(path)
        found = actions.code_actions(a, text, params.range, ls.encoding, ls.docs_base)
        only = params.context.only
        if only:
            found = [c for c in found if any(str(c.kind).startswith(str(k)) for k in only)]
        return found
