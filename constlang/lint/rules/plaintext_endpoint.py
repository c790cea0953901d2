"""CL801 plaintext-endpoint: a served model reached over plain http on another machine."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.served import is_loopback


def check(ctx: LintContext) -> Iterator[Finding]:
    for model in ctx.plan.models:
        sym = ctx.symbol("model", model.id)
        url = model.endpoint or ""
        if sym is None or not ctx.is_local(sym) or not url.lower().startswith("http://") \
                or is_loopback(url):
            continue
        key = (f", and so does the API key in `{model.api_key_env}`" if model.api_key_env
               else "")
        yield Finding(f"model `{model.id}` is served over plain http:// by another machine: "
                      f"prompts and replies travel unencrypted{key}",
                      ctx.value_span(sym, "endpoint"),
                      "use https://, or reach the server through an SSH tunnel or a VPN on "
                      "a loopback address (http://127.0.0.1:PORT/v1)")


RULE = Rule(
    code="CL801", name="plaintext-endpoint", category="models", severity=Severity.WARNING,
    summary="A served model whose endpoint is http:// on a host that is not the loopback.",
    rationale="Every prompt, reply and critique a served model handles crosses the network to "
    "its endpoint, and with `api_key_env` the key goes with every request. Over plain http "
    "anyone on the path can read and change them. http:// to localhost, 127.0.0.0/8 or ::1 "
    "never leaves the machine and is not flagged; neither is https://.",
    bad='''model critic {
  endpoint = "http://10.0.0.7:8000/v1"
  api_key_env = "CRITIC_API_KEY"
}''',
    good='''model critic {
  endpoint = "https://critic.internal.example/v1"
  api_key_env = "CRITIC_API_KEY"
}''',
    check=check,
)
