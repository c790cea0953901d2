"""LSP: the `constlang lsp` language server (pygls), on the compiler and linter's own API.

    constlang lsp            # speaks the Language Server Protocol on stdin/stdout

Modules: framing (the wire format) → protocol (lifecycle rules) → server (stdio, debounce,
guard) → analysis (compile + lint a buffer) → index (names and settings by position) → one
module per feature: diagnostics, hover, navigation, completion (with context), actions
(formatting, code actions), lens (render preview), tokens.
"""

from __future__ import annotations


def serve() -> None:
    """Run the server over stdio until the client disconnects or sends `exit`; the process
    then exits 1 if `exit` came without `shutdown` first, as the LSP spec asks."""
    import sys

    from constlang.lsp.features import create_server

    server = create_server()
    server.start_io()
    if server.lsp.exit_code:
        sys.exit(server.lsp.exit_code)
