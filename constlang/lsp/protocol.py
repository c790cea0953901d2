"""Protocol: the LSP lifecycle rules, an answer to every request, and the stdio loop that hands
framed messages (framing.py) to pygls."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cattrs
from lsprotocol import types as T
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol

from constlang.lsp.framing import INVALID_REQUEST, Body, FrameReader, Garbled, Rejected, decode

SERVER_NOT_INITIALIZED = -32002
logger = logging.getLogger(__name__)


class ConstProtocol(LanguageServerProtocol):
    """pygls' protocol behind a strict gate: bodies arrive already framed and decoded, and
    every request gets exactly one answer, an error where pygls would have stayed silent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initialize_seen = False
        self.exit_code: int | None = None  # set by `exit`: 0 after shutdown, 1 without

    def reply_error(self, msg_id: int | str | None, code: int, message: str) -> None:
        self._send_data({"jsonrpc": "2.0", "id": msg_id,
                         "error": {"code": code, "message": message}})

    def receive(self, item: Body | Garbled) -> None:
        """Act on one item from the frame reader."""
        if isinstance(item, Garbled):
            logger.warning("constlang lsp: unreadable input: %s", item.reason)
            self.reply_error(None, -32700, f"Parse error: {item.reason}")
            return
        message = decode(item.data)
        if isinstance(message, Rejected):
            logger.warning("constlang lsp: bad message: %s", message.reason)
            self.reply_error(message.id, message.code, message.reason)
            return
        self.accept(message)

    def accept(self, data: dict[str, Any]) -> None:
        """A well-formed JSON-RPC message, checked against the lifecycle, then to pygls."""
        method = data.get("method")
        msg_id = data.get("id")
        request = method is not None and msg_id is not None
        if method == T.EXIT:
            pass  # pygls exits with 0 after shutdown and 1 without
        elif self._shutdown:
            if request:
                self.reply_error(msg_id, INVALID_REQUEST,
                                 "the server has shut down; only exit is accepted")
            return
        elif method is not None and not self.initialize_seen and method != T.INITIALIZE:
            if request:
                self.reply_error(msg_id, SERVER_NOT_INITIALIZED,
                                 "the server is not initialized: send initialize first")
            return  # notifications before initialize are dropped, as the spec says
        elif method == T.INITIALIZE and self.initialize_seen:
            if request:
                self.reply_error(msg_id, INVALID_REQUEST, "the server is already initialized")
            return
        if method is not None:
            data.setdefault("params", None)  # so a request without params still finds its type
        try:
            message = self.structure_message(data)
        except JsonRpcException as exc:
            reason = exc.message
            if isinstance(exc.__cause__, cattrs.ClassValidationError):
                reason += ": " + "; ".join(cattrs.transform_error(exc.__cause__))[:500]
            logger.warning("constlang lsp: %s: %s", method or "response", reason)
            if request:
                self.reply_error(msg_id, exc.code, reason)
            return
        if method == T.INITIALIZE:
            self.initialize_seen = True
        self.handle_message(message)

    async def pump(self, reader: FrameReader, stop: threading.Event) -> None:
        """Read items off the wire (in a thread, as reads block) and act on each until the
        input ends or `exit` arrives."""
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1, thread_name_prefix="constlang-lsp-read") as pool:
            while not stop.is_set():
                item = await loop.run_in_executor(pool, reader.next)
                if item is None:
                    return
                try:
                    self.receive(item)
                except SystemExit as done:  # pygls' exit handler ends the process this way
                    self.exit_code = done.code if isinstance(done.code, int) else 1
                    return
