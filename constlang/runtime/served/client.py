"""Runtime, served models: requests to an OpenAI-compatible API, many in flight at once, retried
with backoff on timeouts, 429, 5xx, refused connections and answers that are not JSON; counted
so that progress can show requests in flight, done and retried."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import httpx

from constlang.runtime.models import ModelError
from constlang.runtime.served.spec import ServedSpec

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
BACKOFF_S = 0.5  # the first wait before a retry; it doubles each time
BACKOFF_CAP_S = 20.0
RETRY_AFTER_CAP_S = 60.0  # a server's Retry-After is honoured up to this
MAX_ANSWER_BYTES = 16 * 1024 * 1024  # an answer longer than this is refused, not read on
REPORT_INTERVAL_S = 15.0  # the least time between two status lines
T = TypeVar("T")


class ServedError(ModelError):
    """A served model could not answer; the message names the endpoint and what to do."""


class PromptTooLong(ServedError):
    """The server refused a prompt as longer than its context (HTTP 400)."""


@dataclass
class Counters:
    """What the client did, for progress lines and the stage's manifest."""

    requests: int = 0  # answered requests
    retried: int = 0  # retries after a failed try
    in_flight: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0  # wall time spent in calls to the server


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to the end from synchronous code, also where an event loop already runs in
    this thread (a notebook): there it runs on a loop of its own in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _server_message(body: bytes) -> str:
    """The error message of an OpenAI-style error body, else the body's start."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
        error = data.get("error", data) if isinstance(data, dict) else data
        message = error.get("message") or error.get("detail") if isinstance(error, dict) else None
        return _snippet(str(message or text))
    except ValueError:
        return _snippet(text)


def _too_long(message: str) -> bool:
    """Whether a 400's message says the prompt did not fit (vLLM and OpenAI: "maximum context
    length", llama.cpp: "exceeds the available context size", TGI: "must be <= N" tokens);
    any other 400 (a parameter out of range) is an error, never a silently skipped row."""
    lowered = message.lower()
    return ("context" in lowered or "too long" in lowered
            or ("must be <=" in lowered and "token" in lowered))


class Client:
    """Posts requests to one served model with at most `spec.concurrency` in flight."""

    def __init__(self, spec: ServedSpec, *, say: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.spec, self.say, self.clock = spec, say, clock
        self.counters = Counters()
        self._key = spec.api_key()  # a missing variable is an error before any request
        self._last_report = clock()

    def headers(self) -> dict[str, str]:
        from constlang import __version__

        headers = {"User-Agent": f"constlang/{__version__}"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def stats(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v
                for k, v in asdict(self.counters).items() if k != "in_flight"}

    # -- one request ---------------------------------------------------------------------------
    async def _read(self, http: httpx.AsyncClient, method: str, path: str,
                    body: dict[str, Any] | None) -> tuple[int, bytes, httpx.Headers]:
        """(status, body, headers) of one try; the body is refused past MAX_ANSWER_BYTES."""
        async with http.stream(method, path, json=body) as response:
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise ServedError(f"{self.spec.where}: an answer was longer than "
                                      f"{MAX_ANSWER_BYTES // 2**20} MiB; refused")
                chunks.append(chunk)
            return response.status_code, b"".join(chunks), response.headers

    def _fatal(self, status: int, message: str) -> ServedError:
        where = self.spec.where
        if status in (401, 403):
            fix = (f"check the key in ${self.spec.api_key_env}" if self.spec.api_key_env else
                   "it needs a key: name the variable that holds it with api_key_env")
            return ServedError(f"{where} refused the request (HTTP {status}: {message}); {fix}")
        if status == 404:
            return ServedError(f"{where} answered 404 ({message}); check the endpoint (it "
                               "usually ends in /v1) and served_model")
        if status == 400 and _too_long(message):
            return PromptTooLong(f"{where}: a prompt is too long for the served model "
                                 f"({message})")
        return ServedError(f"{where} refused a request (HTTP {status}): {message}")

    def _wait(self, attempt: int, headers: httpx.Headers | None) -> float:
        retry_after = headers.get("retry-after") if headers is not None else None
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), RETRY_AFTER_CAP_S)
            except ValueError:
                pass
        base = min(BACKOFF_S * 2 ** (attempt - 1), BACKOFF_CAP_S)
        return base * random.uniform(0.75, 1.25)

    async def request(self, http: httpx.AsyncClient, path: str,
                      body: dict[str, Any] | None = None,
                      read: Callable[[dict[str, Any]], Any] | None = None) -> Any:
        """One answer (a JSON object, or what `read` makes of it), after at most `spec.retries`
        retries; ServedError after that. An answer `read` rejects with ValueError counts as a
        failed try (a garbled answer), like one that is not JSON."""
        last, headers, refused = "", None, False
        for attempt in range(self.spec.retries + 1):
            if attempt:
                self.counters.retried += 1
                await asyncio.sleep(self._wait(attempt, headers))
            headers = None
            try:
                status, raw, headers = await self._read(
                    http, "GET" if body is None else "POST", path, body)
            except httpx.TimeoutException:
                last = f"no answer within {self.spec.timeout:g} s"
                continue
            except httpx.TransportError as e:
                refused = isinstance(e, httpx.ConnectError)
                last = f"{type(e).__name__}: {_snippet(str(e)) or 'connection failed'}"
                continue
            if status in RETRY_STATUS:
                last = f"HTTP {status}: {_server_message(raw)}"
                continue
            if status >= 400:
                raise self._fatal(status, _server_message(raw))
            try:
                data = json.loads(raw)
            except ValueError:
                last = f"an answer that is not JSON: {_snippet(raw.decode('utf-8', 'replace'))}"
                continue
            if not isinstance(data, dict):
                last = f"an answer that is not a JSON object: {_snippet(str(data))}"
                continue
            try:
                value = read(data) if read is not None else data
            except ValueError as e:
                last = f"an answer that is not what was asked for ({e}): {_snippet(str(data))}"
                continue
            if body is not None:  # a GET (the model list) is not an answer
                self._count_usage(data)
            return value
        tries = self.spec.retries + 1
        hint = "; is the server running?" if refused else ""
        raise ServedError(f"{self.spec.where} did not answer after {tries} "
                          f"{'try' if tries == 1 else 'tries'} ({last}){hint}")

    # -- many requests -------------------------------------------------------------------------
    def client(self) -> httpx.AsyncClient:
        n = self.spec.concurrency
        return httpx.AsyncClient(
            base_url=self.spec.endpoint + "/", headers=self.headers(),
            timeout=httpx.Timeout(self.spec.timeout),
            limits=httpx.Limits(max_connections=n, max_keepalive_connections=n))

    def get(self, path: str) -> dict[str, Any]:
        """One GET (e.g. `models`), retried like any request."""
        async def one() -> dict[str, Any]:
            async with self.client() as http:
                return await self.request(http, path)
        return run_coroutine(one())

    def run(self, path: str, bodies: list[dict[str, Any]], on_answer: Callable[[int, Any], None],
            *, read: Callable[[dict[str, Any]], Any] | None = None,
            skip_too_long: bool = False) -> None:
        """POST every body to `path`, at most `spec.concurrency` at once; `on_answer(i, value)`
        is called as each arrives (in the order they arrive), with what `read` makes of the
        answer; with `skip_too_long`, a prompt the server refuses as too long gets None. The
        first request that fails for good stops the rest; answers already passed to
        `on_answer` stay done."""
        if bodies:
            run_coroutine(self._run(path, bodies, on_answer, read, skip_too_long))

    async def _run(self, path: str, bodies: list[dict[str, Any]],
                   on_answer: Callable[[int, Any], None],
                   read: Callable[[dict[str, Any]], Any] | None, skip_too_long: bool) -> None:
        gate = asyncio.Semaphore(self.spec.concurrency)
        started = time.perf_counter()

        async def one(http: httpx.AsyncClient, i: int) -> None:
            async with gate:
                self.counters.in_flight += 1
                try:
                    value = await self.request(http, path, bodies[i], read)
                except PromptTooLong:
                    if not skip_too_long:
                        raise
                    value = None
                finally:
                    self.counters.in_flight -= 1
            on_answer(i, value)
            self._report()

        try:
            async with self.client() as http:
                tasks = [asyncio.ensure_future(one(http, i)) for i in range(len(bodies))]
                try:
                    await asyncio.gather(*tasks)
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self.counters.seconds += time.perf_counter() - started

    def _count_usage(self, answer: dict[str, Any]) -> None:
        self.counters.requests += 1
        usage = answer.get("usage")
        if isinstance(usage, dict):
            self.counters.prompt_tokens += _count(usage.get("prompt_tokens"))
            self.counters.completion_tokens += _count(usage.get("completion_tokens"))

    def _report(self) -> None:
        now = self.clock()
        if self.say is None or now - self._last_report < REPORT_INTERVAL_S:
            return
        self._last_report = now
        c = self.counters
        self.say(f"`{self.spec.id}`: {c.in_flight} in flight, {c.requests:,} answered, "
                 f"{c.retried:,} retried")


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0
