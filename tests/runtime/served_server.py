"""Real OpenAI-compatible servers for the served-model tests: `transformers serve` on 127.0.0.1
serving a tiny model, and a small fault-injecting proxy in front of it (500s, garbage, stalls,
a required key). Every reply and label still comes from the real server: the proxy only fails,
delays or forwards."""

from __future__ import annotations

import hashlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVE = [sys.executable, "-c", "from transformers.cli.transformers import main; main()", "serve"]
START_TIMEOUT_S = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`transformers serve MODEL` on 127.0.0.1:port, started and stopped by the test."""

    def __init__(self, model: Path, port: int | None = None, log: Path | None = None,
                 extra: tuple[str, ...] = ()) -> None:
        self.model, self.port = model, port or free_port()
        self.log, self.extra = log, extra
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> Server:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "TRANSFORMERS_VERBOSITY": "error",
               "HF_HUB_OFFLINE": "1"}
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [*SERVE, str(self.model), "--host", "127.0.0.1", "--port", str(self.port),
             "--device", "cpu", "--dtype", "float32", *self.extra],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {self.process.returncode}"
                                   + (f"; see {self.log}" if self.log else ""))
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"transformers serve did not start within {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None


@dataclass
class Faults:
    """What the proxy does to the next requests (each count goes down as it is used)."""

    errors: int = 0  # answer HTTP 500
    garbage: int = 0  # answer 200 with a body that is not JSON
    stalls: int = 0  # answer nothing for `stall_s`
    stall_s: float = 5.0
    key: str | None = None  # require "Authorization: Bearer <key>", else 401
    fail_after: int | None = None  # once this many were answered, answer 500 to everything
    forwarded: list[str] = field(default_factory=list)  # hashes of bodies the server answered
    seen: int = 0  # requests received
    active: int = 0  # requests being answered now
    most_active: int = 0  # the most at once


class FaultProxy:
    """A threaded HTTP proxy to `upstream` (http://127.0.0.1:port) that injects `faults`."""

    def __init__(self, upstream: str) -> None:
        self.upstream, self.faults = upstream.rstrip("/"), Faults()
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # one segment per answer: no delayed-ACK stall

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a cancelled request): nothing to tell it

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy.take(self.headers.get("Authorization"))
                if fault == "unauthorized":
                    return self._send(401, b'{"error": {"message": "Invalid API key"}}')
                if fault == "error":
                    return self._send(500, b'{"error": {"message": "injected failure"}}')
                if fault == "garbage":
                    return self._send(200, b"<html>upstream hiccup</html>")
                if fault == "stall":
                    time.sleep(proxy.faults.stall_s)
                with proxy.lock:
                    proxy.faults.active += 1
                    proxy.faults.most_active = max(proxy.faults.most_active, proxy.faults.active)
                try:
                    answer = httpx.request(method, proxy.upstream + self.path, content=body,
                                           headers={"Content-Type": "application/json"},
                                           timeout=120)
                except httpx.HTTPError:
                    return self._send(502, b'{"error": {"message": "upstream is down"}}')
                finally:
                    with proxy.lock:
                        proxy.faults.active -= 1
                if answer.status_code == 200 and body:
                    with proxy.lock:
                        proxy.faults.forwarded.append(hashlib.sha256(body).hexdigest())
                self._send(answer.status_code, answer.content)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def take(self, authorization: str | None) -> str | None:
        with self.lock:
            f = self.faults
            f.seen += 1
            if f.key is not None and authorization != f"Bearer {f.key}":
                return "unauthorized"
            if f.fail_after is not None and len(f.forwarded) >= f.fail_after:
                return "error"
            for name in ("errors", "garbage", "stalls"):
                if getattr(f, name):
                    setattr(f, name, getattr(f, name) - 1)
                    return {"errors": "error", "garbage": "garbage", "stalls": "stall"}[name]
        return None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
