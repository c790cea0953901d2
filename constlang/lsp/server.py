"""Server: the pygls language server, its document lifecycle, debounced diagnostics, the stdio
transport (framing.py, protocol.py), and the guard that turns any handler's failure into a log
message instead of a dead server."""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

import cattrs
from lsprotocol import types as T
from pygls.exceptions import JsonRpcException
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import default_converter

from constlang import __version__
from constlang.gc_pause import gc_paused
from constlang.lsp.analysis import Analysis, Store
from constlang.lsp.diagnostics import to_lsp
from constlang.lsp.framing import FrameReader
from constlang.lsp.positions import LineIndex, path_of, uri_of
from constlang.lsp.protocol import ConstProtocol
from constlang.source import normalize_text

DEBOUNCE_S = 0.05  # wait this long after the last keystroke before compiling
F = TypeVar("F", bound=Callable[..., Any])


class ConstServer(LanguageServer):
    """The constlang language server: a store of buffers and analyses, plus options."""

    def __init__(self) -> None:
        super().__init__("constlang", __version__, protocol_cls=ConstProtocol,
                         converter_factory=_converter)
        self.store = Store()
        self.debounce_s = DEBOUNCE_S
        self.docs_base: str | None = None
        self._pending: dict[Path, asyncio.Task[None]] = {}

    @property
    def lsp(self) -> ConstProtocol:
        return cast(ConstProtocol, self.protocol)

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve over stdio until the input ends or `exit` arrives (then `lsp.exit_code` is
        set). pygls' own loop is replaced: it reads headers without bounds and loses its place
        for good after one badly framed message."""
        source = stdin or sys.stdin.buffer
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        reader = FrameReader(getattr(source, "read1", source.read))
        try:
            asyncio.run(self.lsp.pump(reader, self._stop_event))
        except BrokenPipeError:
            pass  # the editor went away; there is no one left to tell
        except KeyboardInterrupt:
            pass
        finally:
            self.shutdown()

    # -- helpers the features share --------------------------------------------------
    @property
    def encoding(self) -> str:
        try:
            return str(self.workspace.position_encoding or "utf-16")
        except Exception:  # before initialize
            return "utf-16"

    def roots(self) -> list[Path]:
        out: list[Path] = []
        try:
            for folder in self.workspace.folders.values():
                p = path_of(folder.uri)
                if p is not None:
                    out.append(p)
            if not out and self.workspace.root_uri:
                p = path_of(self.workspace.root_uri)
                if p is not None:
                    out.append(p)
        except Exception:
            pass
        return out

    def buffer(self, uri: str) -> str:
        """An open document's text as the compiler reads it (line endings made LF, no BOM), so
        offsets of the analysis and of requests agree; lines and characters are the same in
        the editor's text, where a CR only ever ends a line."""
        return normalize_text(self.workspace.get_text_document(uri).source)

    def lines(self, text: str) -> LineIndex:
        return LineIndex(text, self.encoding)

    def analysis(self, uri: str) -> Analysis | None:
        """The analysis to answer a request from: the last good one of the buffer (compiling
        it first if it never was)."""
        path = path_of(uri)
        if path is None:
            return None
        if path in self.store.buffers:
            return self.store.current(path) or self.store.analyse(path)
        return self.store.of_file(path)

    def log(self, message: str, kind: T.MessageType = T.MessageType.Log) -> None:
        try:
            self.window_log_message(T.LogMessageParams(kind, message))
        except Exception:
            pass

    # -- diagnostics -----------------------------------------------------------------
    def publish(self, path: Path) -> None:
        """Analyse an open buffer and publish its diagnostics."""
        if path not in self.store.buffers:
            return
        with gc_paused():  # analysis and its LSP form build large acyclic trees
            self._publish(path)

    def _publish(self, path: Path) -> None:
        a = self.store.analyse(path)
        for problem in a.problems:
            self.log(problem, T.MessageType.Warning)
        uri = uri_of(path)
        try:  # the version the diagnostics are of, so a client can drop stale ones
            version = self.workspace.get_text_document(uri).version
        except Exception:
            version = None
        self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(  # see _converter
            uri, to_lsp(a, self.encoding, self.docs_base), version=version))  # type: ignore[arg-type]

    def schedule(self, path: Path, delay: float | None = None) -> None:
        """Publish after `delay` seconds without a newer edit (debounce)."""
        old = self._pending.pop(path, None)
        if old is not None:
            old.cancel()
        wait = self.debounce_s if delay is None else delay
        self._pending[path] = asyncio.get_event_loop().create_task(self._later(path, wait))

    async def _later(self, path: Path, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            self._pending.pop(path, None)
            guarded(lambda: self.publish(path), self, "diagnostics")()
            for other in list(self.store.buffers):  # buffers that import this one
                if other != path and _imports(self.store.latest.get(other), path):
                    guarded(lambda o=other: self.publish(o), self, "diagnostics")()
        except asyncio.CancelledError:
            pass


def _converter() -> cattrs.Converter:
    """pygls' converter, except that published diagnostics already in JSON form (see
    `to_lsp`) are sent as they are."""
    converter = default_converter()
    typed = converter.get_unstructure_hook(T.Diagnostic)

    def publish(p: T.PublishDiagnosticsParams) -> dict[str, Any]:
        out: dict[str, Any] = {"uri": p.uri, "diagnostics": [
            d if isinstance(d, dict) else typed(d) for d in p.diagnostics]}
        if p.version is not None:
            out["version"] = p.version
        return out

    converter.register_unstructure_hook(T.PublishDiagnosticsParams, publish)
    return converter


def _imports(a: Analysis | None, path: Path) -> bool:
    world = a.result.world if a else None
    return bool(world and any(m.path == path for m in world.modules.values()))


def guarded(fn: Callable[..., Any], server: ConstServer, what: str,
            default: Any = None) -> Callable[..., Any]:
    """`fn`, except that an exception is logged to the client and `default` returned."""
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except JsonRpcException:
                raise
            except Exception as exc:
                _report(server, what, exc)
                return default
        return run_async

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except JsonRpcException:
            raise  # a deliberate refusal (e.g. a rename to a taken name) goes to the client
        except Exception as exc:
            _report(server, what, exc)
            return default
    return run


def _report(server: ConstServer, what: str, exc: Exception) -> None:
    detail = "".join(traceback.format_exception(exc)).rstrip()
    server.log(f"constlang: {what} failed: {type(exc).__name__}: {exc}\n{detail}",
               T.MessageType.Error)


def feature(server: ConstServer, method: str, options: Any = None,
            default: Any = None) -> Callable[[F], F]:
    """Register a handler for `method`, guarded (see `guarded`)."""
    def register(fn: F) -> F:
        wrapped = guarded(fn, server, method, default)
        server.feature(method, options)(wrapped) if options is not None else \
            server.feature(method)(wrapped)
        return fn
    return register
