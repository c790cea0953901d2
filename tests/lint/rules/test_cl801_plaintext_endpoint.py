"""CL801 plaintext-endpoint."""

import pytest

from ..helpers import PRINCIPLE, findings, line_of

BODY = PRINCIPLE + '''
model critic {
  endpoint = "URL"KEY
}
dataset prompts { path = "prompts.jsonl" }
stage critique_revision { model = critic  prompts = prompts }
'''


def body(url: str, key: str = "") -> str:
    return BODY.replace("URL", url).replace("KEY", f'\n  api_key_env = "{key}"' if key else "")


def test_http_to_another_machine_is_flagged_with_the_key(tmp_path):
    text = body("http://10.0.0.7:8000/v1", "CRITIC_API_KEY")
    found = findings(tmp_path, text, "CL801")
    assert [d.span.line for d in found] == [line_of(text, "endpoint =")]
    assert found[0].message == (
        "model `critic` is served over plain http:// by another machine: prompts and replies "
        "travel unencrypted, and so does the API key in `CRITIC_API_KEY`")


def test_http_without_a_key_names_the_prompts_only(tmp_path):
    found = findings(tmp_path, body("HTTP://critic.example.com/v1"), "CL801")
    assert [d.message.endswith("travel unencrypted") for d in found] == [True]


@pytest.mark.parametrize("url", [
    "https://critic.example.com/v1", "http://127.0.0.1:8000/v1", "http://127.8.9.1/v1",
    "http://localhost:8000/v1", "http://LOCALHOST/v1", "http://[::1]:8000/v1"])
def test_https_and_the_loopback_are_fine(tmp_path, url):
    assert findings(tmp_path, body(url), "CL801") == []
