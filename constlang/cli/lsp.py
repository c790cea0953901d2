"""CLI `lsp`: run the language server for editors over standard input and output."""

from __future__ import annotations

from constlang.cli.shared import command
from constlang.errors import UsageError


@command("lsp", short_help="Run the language server (for editors).")
def lsp() -> None:
    """Run the constlang language server on standard input and output.

    Editors start it for .const files: diagnostics as you type, hover, go to definition,
    references, rename, completion, formatting, code actions and a render preview. Needs the
    `lsp` extra: pip install "constlang[lsp]". docs/editors.md shows how to set up VS Code,
    Neovim and Helix.
    """
    try:
        import pygls  # noqa: F401
    except ImportError:
        raise UsageError('the language server needs pygls: pip install "constlang[lsp]"') from None
    from constlang.lsp import serve

    serve()
