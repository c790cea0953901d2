"""Runtime, served models: what a plan's served model declares (endpoint, served name, limits),
the key read from the environment variable it names, and what a manifest may record of it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from constlang import plan as P
from constlang.runtime.models import ModelError


@dataclass(frozen=True)
class ServedSpec:
    """One served model: where it answers and how hard to try."""

    id: str  # the model's name in the constitution
    endpoint: str  # base URL of the API, e.g. http://127.0.0.1:8000/v1
    served_model: str | None = None  # the name requests carry; None: the one the server lists
    api_key_env: str | None = None  # the environment variable that holds the key
    timeout: float = 120.0  # seconds per request
    concurrency: int = 8  # requests in flight at most
    retries: int = 4  # tries after the first, on timeouts, 429, 5xx and refused connections
    without_logprobs: str = "stop"  # "stop" or "parse": judging on a server with no logprobs

    @classmethod
    def of(cls, model: P.Model) -> ServedSpec:
        """The served part of a plan model (ModelError when it names no endpoint)."""
        endpoint = getattr(model, "endpoint", None)
        if not endpoint:
            raise ModelError(f"model '{model.id}' names no endpoint")
        fields = {k: getattr(model, k) for k in ("served_model", "api_key_env", "timeout",
                                                  "concurrency", "retries", "without_logprobs")
                  if getattr(model, k, None) is not None}
        return cls(id=model.id, endpoint=str(endpoint).rstrip("/"), **fields)

    @property
    def where(self) -> str:
        """How messages name it: model 'critic' at http://…/v1."""
        return f"model '{self.id}' at {self.endpoint}"

    def api_key(self) -> str | None:
        """The key from the environment variable `api_key_env` (None when none is named)."""
        if not self.api_key_env:
            return None
        from constlang.served import is_loopback

        if self.endpoint.startswith("http://") and not is_loopback(self.endpoint):
            raise ModelError(f"{self.where}: refusing to send the key from ${self.api_key_env} "
                             "unencrypted to another machine; use an https:// endpoint (or an "
                             "SSH tunnel to a loopback address)")
        key = os.environ.get(self.api_key_env, "")
        if not key.strip():
            raise ModelError(f"{self.where}: the environment variable {self.api_key_env} that "
                             f"should hold its API key is not set (export {self.api_key_env}=…)")
        return key.strip()

    def record(self) -> dict[str, Any]:
        """What a manifest records: where and how, never the key (only the variable's name)."""
        return {"endpoint": self.endpoint, "served_model": self.served_model,
                "api_key_env": self.api_key_env, "timeout": self.timeout,
                "concurrency": self.concurrency, "retries": self.retries,
                "without_logprobs": self.without_logprobs}


def is_served(model: Any) -> bool:
    """Whether a plan model names an endpoint rather than weights."""
    return bool(getattr(model, "endpoint", None))
