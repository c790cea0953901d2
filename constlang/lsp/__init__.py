"""LSP: the `constlang lsp` language server (pygls), on the compiler and linter's own API.

    constlang lsp            # speaks the Language Server Protocol on stdin/stdout

Modules: server (lifecycle, debounce, guard) → analysis (compile + lint a buffer) → index
(names and settings by position) → one module per feature: diagnostics, hover, navigation,
completion (with context), actions (formatting, code actions), lens (render preview), tokens.
"""

from __future__ import annotations


def serve() -> None:
    """Run the server over stdio until the client disconnects."""
    from constlang.lsp.features import create_server

    create_server().start_io()
