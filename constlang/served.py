"""Served models, the language's rules: endpoint URLs, key-like strings, and which model
declarations and stage roles may be reached over HTTP (checker and plan validation share them).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# Settings of a served model only; a local model's plan entry leaves them out.
SERVED_FIELDS = ("endpoint", "served_model", "api_key_env", "timeout", "concurrency", "retries",
                 "without_logprobs")
# Settings of weights loaded in-process: meaningless for a served model.
WEIGHTS_FIELDS = ("gguf_file", "dtype", "trust_remote_code")
# How requests are sent, not what the model answers: left out of a stage's inputs hash, so
# raising `concurrency` never reruns an expensive stage.
TRANSPORT_FIELDS = ("api_key_env", "timeout", "concurrency", "retries")

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_URL = 2048  # characters of an endpoint URL

# API-key shapes: each a literal prefix, a fixed count of key characters, then the rest of
# the key. Only the fixed part can fail, so a search costs a bounded amount per position, and
# a match's greedy tail ends where the key does with nothing after it to backtrack into:
# linear in the text.
_B = r"(?<![A-Za-z0-9_-])"  # the key starts a word
_T = r"[A-Za-z0-9_-]*"  # the rest of a key
_KEYS = re.compile("|".join([
    _B + r"(?P<anthropic>sk-ant-)[A-Za-z0-9_-]{20}" + _T,
    _B + r"(?P<project>sk-proj-)[A-Za-z0-9_-]{20}" + _T,
    _B + r"(?P<openai>sk-)[A-Za-z0-9]{20}" + _T,
    _B + r"(?P<huggingface>hf_)[A-Za-z0-9]{30}" + _T,
    _B + r"(?P<github>gh[opsur]_)[A-Za-z0-9]{30}" + _T,
    _B + r"(?P<github_pat>github_pat_)[A-Za-z0-9_]{20}" + _T,
    r"(?<![A-Za-z0-9])(?P<aws>AKIA)[0-9A-Z]{16}(?![0-9A-Z])",
    _B + r"(?P<slack>xox[abprs]-)[A-Za-z0-9-]{10}" + _T,
    r"(?<![A-Za-z])(?P<bearer>[Bb]earer[ \t])[A-Za-z0-9._~+/-]{16}[A-Za-z0-9._~+/=-]*",
]))


@dataclass(frozen=True)
class Secret:
    """Where a key-like string starts and ends in a text, and its redacted prefix."""

    start: int
    end: int
    shown: str  # e.g. `sk-…`: never more of the key than its public prefix


def find_secret(text: str) -> Secret | None:
    """The first API-key-like string in `text`, or None."""
    m = _KEYS.search(text)
    if m is None:
        return None
    prefix = next(v for v in m.groupdict().values() if v is not None)
    return Secret(m.start(), m.end(), prefix.rstrip(" \t") + " …" if prefix[-1] in " \t"
                  else prefix + "…")


def redact_secrets(text: str) -> str:
    """`text` with every key-like string's characters after its public prefix replaced by `*`
    (the length kept, so a caret under the line still lines up)."""
    def hide(m: re.Match[str]) -> str:
        prefix = next(v for v in m.groupdict().values() if v is not None)
        return prefix + "*" * (len(m.group()) - len(prefix))

    return _KEYS.sub(hide, text)


def secret_message(secret: Secret) -> tuple[str, str]:
    """The message and help of a key found in a constitution (never the key itself)."""
    return (f"an API key (`{secret.shown}`) is written in the constitution",
            "remove it and revoke it; put the key in an environment variable and name that "
            'variable in the model\'s `api_key_env`, e.g. api_key_env = "CRITIC_API_KEY"')


def endpoint_problem(url: str) -> str | None:
    """Why `url` cannot be a served model's base URL (None when it can)."""
    if len(url) > MAX_URL:
        return f"it is {len(url):,} characters long (at most {MAX_URL:,})"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "it holds spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is not a number in range)
    except ValueError as exc:
        return f"it is not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "it must start with http:// or https://"
    if "@" in parts.netloc:
        return "it holds a user name or password (`user:password@`); name the key's " \
               "environment variable in `api_key_env` instead"
    if not parts.hostname:
        return "it names no host"
    if parts.query or url.rstrip().endswith("?"):
        return "it has a query (`?...`); give the base URL only, e.g. http://127.0.0.1:8000/v1"
    if parts.fragment or "#" in url:
        return "it has a fragment (`#...`); give the base URL only"
    return None


def is_loopback(url: str) -> bool:
    """Whether `url`'s host is this machine: localhost, 127.0.0.0/8 or ::1."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def describe(model: Any) -> str:
    """Where a model runs, in words: its source, or `served at <endpoint> (<served_model>)`."""
    if getattr(model, "endpoint", None) is None:
        return str(model.source)
    name = model.served_model or "the server's only model"
    return f"served at {model.endpoint} ({name})"


@dataclass(frozen=True)
class Problem:
    """A model declaration's problem: the field to point at, the message, the help."""

    field: str | None
    message: str
    help: str | None


def model_problems(name: str, values: dict[str, Any], written: set[str]) -> list[Problem]:
    """What is wrong with a model declaration's `source`/`endpoint` fields; `written` holds the
    fields set in the source (defaults count as unset)."""
    what = f"model `{name}`"
    source, endpoint = values.get("source"), values.get("endpoint")
    if source is None and endpoint is None:
        return [Problem(None, f"{what} needs a `source` (weights to load) or an `endpoint` (a "
                        "server to call)", 'add `source = "embedded:smollm2-135m-instruct"`, '
                        'or `endpoint = "http://127.0.0.1:8000/v1"` for an OpenAI-compatible '
                        "server")]
    if source is not None and endpoint is not None:
        return [Problem("endpoint", f"{what} has both a `source` and an `endpoint`",
                        "keep one: `source` loads weights in-process, `endpoint` calls a "
                        "server")]
    out: list[Problem] = []
    if endpoint is None:
        for f in SERVED_FIELDS[1:]:
            if f in written:
                out.append(Problem(f, f"`{f}` applies to served models (with an `endpoint`) "
                                   "only", "remove it, or replace `source` with `endpoint`"))
        return out
    for f in WEIGHTS_FIELDS:
        if f in written:
            out.append(Problem(f, f"`{f}` applies to models with weights (a `source`) only; "
                               f"{what} is served at an endpoint", "remove it: the server "
                               "decides how its weights are loaded"))
    problem = endpoint_problem(endpoint)
    if problem:
        out.append(Problem("endpoint", f"{what}: `endpoint` is not a usable base URL: "
                           f"{problem}", 'e.g. endpoint = "http://127.0.0.1:8000/v1"'))
    env = values.get("api_key_env")
    if env is not None and find_secret(env) is None and not ENV_NAME.fullmatch(env):
        out.append(Problem("api_key_env", f"{what}: `api_key_env` must name an environment "
                           "variable (letters, digits and `_`, not starting with a digit)",
                           'e.g. api_key_env = "CRITIC_API_KEY" (the key goes in that '
                           "variable, never in the file)"))
    return out


def plan_model_problem(model: Any) -> str | None:
    """The first problem of a plan's model declaration (a plan file is untrusted), or None."""
    values = {f: getattr(model, f) for f in type(model).model_fields}
    written = {f for f in (*SERVED_FIELDS, *WEIGHTS_FIELDS)
               if values.get(f) != type(model).model_fields[f].default}
    found = model_problems(model.id, values, written)
    if found:
        return found[0].message
    secret = find_secret(values.get("api_key_env") or "")
    return f"model `{model.id}`: {secret_message(secret)[0]}" if secret else None
