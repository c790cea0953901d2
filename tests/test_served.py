"""Served models, the language side: the endpoint fields, E117-E119 in the checker and in plan
validation, key-like strings, the inputs hash, fmt, the JSON Schema, the LSP and `plan`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from constlang import plan as P
from constlang.cli import cli
from constlang.compile import compile_text
from constlang.diagnostics_output import render_text
from constlang.runtime.inputs import inputs_hash
from constlang.served import describe, endpoint_problem, find_secret, is_loopback
from constlang.syntax.format import format_source

HEAD = 'constlang 1\nconstitution "t" {}\n'
LOCAL = 'model assistant { source = "embedded:smollm2-135m-instruct" }\n'
CRITIC = '''model critic {
  endpoint = "http://127.0.0.1:8000/v1"
  served_model = "Qwen/Qwen2.5-72B-Instruct"
  SETTINGS
}
'''
DATA = 'dataset d { path = "d.jsonl" }\nprinciple p { critique = "c" revision = "r" }\n'
QUESTION = 'question q { text = "Is it harmful?" kind = pointwise good_answer = "No" }\n'


def compiled(project: Path, body: str, settings: str = "", critic: str = CRITIC) -> object:
    (project / "d.jsonl").write_text('{"prompt": "p"}\n', "utf-8")
    return compile_text(HEAD + LOCAL + critic.replace("SETTINGS", settings) + DATA + QUESTION
                        + body, str(project / "main.const"), project)


def codes(result: object) -> list[tuple[str, int]]:
    return [(d.code, d.span.line) for d in result.diagnostics]  # type: ignore[attr-defined]


# -- the declaration ---------------------------------------------------------------------

def test_a_served_model_compiles_with_its_defaults(project: Path) -> None:
    result = compiled(project, "stage critique_revision { model = critic prompts = d }\n")
    assert result.diagnostics == []
    critic = result.plan.model("critic")
    assert critic.served and critic.source is None
    assert (critic.timeout, critic.concurrency, critic.retries, critic.without_logprobs,
            critic.api_key_env) == (120.0, 8, 4, "stop", None)


def test_a_local_models_plan_entry_has_no_serving_settings(project: Path) -> None:
    """Plans (and hashes) of constitutions without served models read as before."""
    result = compiled(project, "stage critique_revision { model = critic prompts = d }\n")
    entry = json.loads(result.plan.to_json())["models"][0]
    assert entry["id"] == "assistant" and "endpoint" not in entry and "timeout" not in entry
    assert P.Plan.from_json(result.plan.to_json()).hash == result.plan.hash


@pytest.mark.parametrize("settings, message", [
    ('timeout = 0.5', "`timeout` must be >= 1 and <= 3600"),
    ('concurrency = 2000', "`concurrency` must be >= 1 and <= 1024"),
    ('retries = 21', "`retries` must be >= 0 and <= 20"),
    ('without_logprobs = guess', '`without_logprobs` must be'),
])
def test_serving_settings_are_bounded(project: Path, settings: str, message: str) -> None:
    result = compiled(project, "", settings)
    assert [d.code for d in result.diagnostics] in (["E106"], ["E105"])
    assert result.diagnostics[0].message.startswith(message)


@pytest.mark.parametrize("url, problem", [
    ("http://127.0.0.1:8000/v1", None), ("https://api.example.com/v1", None),
    ("http://[::1]:8000/v1/", None),
    ("ftp://h/v1", "it must start with http:// or https://"),
    ("127.0.0.1:8000/v1", "it must start with http:// or https://"),
    ("http:///v1", "it names no host"),
    ("http://u:p@h/v1", "it holds a user name or password"),
    ("http://h/v1?key=1", "it has a query"), ("http://h/v1#x", "it has a fragment"),
    ("http://h:99999/v1", "it is not a URL"), ("http://h /v1", "it holds spaces"),
])
def test_endpoint_urls(url: str, problem: str | None) -> None:
    found = endpoint_problem(url)
    assert (found is None) if problem is None else (found or "").startswith(problem)


def test_loopback_hosts() -> None:
    assert all(is_loopback(u) for u in ["http://localhost/v1", "http://127.3.2.1/v1",
                                          "http://[::1]/v1"])
    assert not any(is_loopback(u) for u in ["http://10.0.0.1/v1", "http://localhost.evil.com/",
                                              "http://128.0.0.1/v1"])


# -- key-like strings --------------------------------------------------------------------

KEYS = ["sk-" + "aB3" * 16, "sk-proj-" + "a_b-C1" * 8, "sk-ant-api03-" + "x" * 40,
        "hf_" + "AbC1" * 9, "ghp_" + "a1" * 18, "gho_" + "a1" * 18, "ghs_" + "a1" * 18,
        "github_pat_11ABCDEFG0" + "x" * 40, "AKIAIOSFODNN7EXAMPLE", "xoxb-123456789012-abc",
        "Bearer eyJhbGciOiJIUzI1NiJ9.abcdef"]


@pytest.mark.parametrize("key", KEYS)
def test_every_key_shape_is_found_and_never_echoed(project: Path, key: str) -> None:
    secret = find_secret(f"call it with {key} please")
    assert secret is not None and key.startswith(secret.shown.rstrip("… "))
    result = compiled(project, f'principle leak {{ critique = "use {key}" revision = "r" }}\n')
    (d,) = result.diagnostics
    assert d.code == "E118" and d.span.column == len('principle leak { critique = "use ') + 1
    assert key not in d.message and key[:len(secret.shown) + 3] not in d.message
    assert "api_key_env" in d.help
    shown = render_text(result.diagnostics, result.sources)
    hidden = key[len(secret.shown.rstrip("… ")):].strip()
    assert hidden not in shown and "*" * len(hidden) in shown  # the source line, masked
    assert d.span.end_column - d.span.column == len(key)  # the caret under the whole key


def test_a_key_on_a_long_line_is_masked_in_the_window_shown(project: Path) -> None:
    key = "hf_" + "Zq7" * 12
    body = 'principle p2 { critique = "' + "x " * 200 + key + " y" * 200 + '" revision = 1 }\n'
    result = compiled(project, body)
    shown = render_text(result.diagnostics, result.sources)
    assert {d.code for d in result.diagnostics} == {"E105", "E118"}
    assert key[3:] not in shown and key[10:] not in shown


@pytest.mark.parametrize("text", [
    "use sk-learn-style pipelines", "a task-specific-instruction-that-is-long", "the bearer of "
    "bad news", "hf_token", "AKIA", "mask-abcdefghijklmnopqrstuvwxyz0123", "AWS_ACCESS_KEY_ID"])
def test_ordinary_text_is_not_a_key(text: str) -> None:
    assert find_secret(text) is None


def test_keys_are_found_in_templates_lists_and_names(project: Path) -> None:
    body = ('template t(prompt) """\n  Authorization: Bearer abcdefghijklmnop1234\n  """\n'
            'dataset e { path = "d.jsonl" tags = ["ok", "hf_' + "a" * 34 + '"] }\n')
    assert [c for c, _ in codes(compiled(project, body))] == ["E118", "E118"]


def test_the_key_scan_is_linear_on_hostile_text() -> None:
    for text in ["sk-" * 300_000, "a" * 1_000_000, "sk-" + "a" * 1_000_000,
                 ("hf_" + "a" * 29 + "-") * 30_000, "hf_" + "a" * 29 + " " * 10 ** 6,
                 ("xoxb-" + "1" * 9 + " ") * 60_000, "Bearer " * 150_000]:
        start = time.perf_counter()
        find_secret(text)
        assert time.perf_counter() - start < 2.0


def test_an_api_key_in_api_key_env_is_e118_not_e117(project: Path) -> None:
    result = compiled(project, "", 'api_key_env = "sk-' + "Z9" * 12 + '"')
    assert [c for c, _ in codes(result)] == ["E118"]
    assert "api_key_env" in result.diagnostics[0].help


# -- roles -------------------------------------------------------------------------------

ROLES = """stage critique_revision { model = critic prompts = d }
stage feedback { policy = critic judge = critic prompts = d }
stage best_of_n { policy = critic prompts = d }
stage evaluate { models = [critic] baseline = critic judge = critic harmful = d }
"""


def test_roles_that_generate_or_score_may_be_served(project: Path) -> None:
    result = compiled(project, ROLES)
    assert result.diagnostics == [], [d.message for d in result.diagnostics]


@pytest.mark.parametrize("stage, setting", [
    ("stage sft { from = critique_revision  model = critic }", "model"),
    ("stage sft { from = critique_revision }", "model"),
    ("stage reward_model { from = feedback }", "model"),
    ("stage reward_model { from = feedback  model = critic }", "model"),
    ("stage dpo { from = feedback  policy = critic }", "policy"),
    ("stage ppo { policy = critic  prompts = d  checks = [] }", "policy"),
    ("stage rloo { policy = critic  prompts = d  reward_source = judge  judge = assistant "
     "judge_question = q }", "policy"),
    ("stage grpo { policy = assistant  prompts = d  reward_source = judge  judge = critic "
     "judge_question = q }", "judge"),
])
def test_a_training_role_cannot_be_served(project: Path, stage: str, setting: str) -> None:
    result = compiled(project, ROLES + stage + "\n")
    found = [d for d in result.diagnostics if d.code == "E119"]
    assert len(found) == 1, [d.message for d in result.diagnostics]
    assert f"`{setting}`" in found[0].message and "`critic`, a served model" in found[0].message
    before = HEAD + LOCAL + CRITIC + DATA + QUESTION + ROLES
    assert found[0].span.line == before.count("\n") + 1


def test_a_policy_naming_a_trained_stage_is_fine(project: Path) -> None:
    body = ROLES + "stage sft { from = critique_revision  model = assistant }\n" \
        "stage dpo { from = feedback  policy = sft }\n"
    assert compiled(project, body).diagnostics == []


# -- plan files --------------------------------------------------------------------------

def plan_data(project: Path) -> dict:
    body = ROLES + "stage sft { from = critique_revision  model = assistant }\n"
    data = json.loads(compiled(project, body).plan.to_json())
    data.pop("hash")
    return data


def refused(data: dict) -> str:
    with pytest.raises(ValueError) as info:
        P.Plan.model_validate(data)
    return str(info.value)


def test_a_plan_file_is_held_to_the_same_rules(project: Path) -> None:
    data = plan_data(project)
    P.Plan.model_validate(data)  # as written: fine
    critic = data["models"][1]
    for change, message in [
        ({"endpoint": None}, "needs a `source` (weights to load) or an `endpoint`"),
        ({"source": "x"}, "has both a `source` and an `endpoint`"),
        ({"endpoint": "http://u:p@h/v1"}, "user name or password"),
        ({"dtype": "float16"}, "`dtype` applies to models with weights"),
        ({"api_key_env": "not a name"}, "`api_key_env` must name an environment variable"),
        ({"api_key_env": "hf_" + "q" * 32}, "an API key (`hf_…`)"),
    ]:
        assert message in refused({**data, "models": [data["models"][0], {**critic, **change}]})
    local = {**data["models"][0], "concurrency": 3}
    assert "`concurrency` applies to served models" in refused({**data, "models": [local,
                                                                                      critic]})


def test_a_plan_file_cannot_train_a_served_model(project: Path) -> None:
    data = plan_data(project)
    sft = next(s for s in data["stages"] if s["name"] == "sft")
    sft["settings"]["model"] = None  # the default: critique_revision's model, `critic`
    assert "stage `sft`: `model` is `critic`, a served model" in refused(data)
    sft["settings"]["model"] = "critic"
    assert "the stage trains local weights" in refused(data)


def test_a_plan_file_with_a_key_anywhere_is_refused(project: Path) -> None:
    data = plan_data(project)
    data["principles"][0]["revision"] = "AKIAIOSFODNN7EXAMPLE"
    message = refused(data)
    assert "an API key (`AKIA…`) is written in the plan" in message


# -- the inputs hash ---------------------------------------------------------------------

def stage_hash(project: Path, settings: str, critic: str = CRITIC) -> str:
    result = compiled(project, "stage critique_revision { model = critic prompts = d }\n",
                      settings, critic)
    assert result.plan is not None, [d.message for d in result.diagnostics]
    stage = result.plan.stage("critique_revision")
    return inputs_hash(result.plan, stage, project, {})


def test_what_the_model_answers_changes_the_inputs_hash(project: Path) -> None:
    base = stage_hash(project, "")
    for settings in ['without_logprobs = parse', 'temperature = 0.2', 'max_new_tokens = 9',
                     'top_p = 0.5']:
        assert stage_hash(project, settings) != base, settings
    for old, new in [('http://127.0.0.1:8000/v1', 'http://127.0.0.1:8001/v1'),
                     ('Qwen/Qwen2.5-72B-Instruct', 'Qwen/Qwen2.5-7B-Instruct')]:
        assert stage_hash(project, "", CRITIC.replace(old, new)) != base, new


def test_how_requests_are_sent_leaves_the_inputs_hash_alone(project: Path) -> None:
    base = stage_hash(project, "")
    assert stage_hash(project, 'timeout = 30  concurrency = 64  retries = 0  '
                               'api_key_env = "CRITIC_API_KEY"') == base


# -- tools -------------------------------------------------------------------------------

def test_fmt_formats_a_served_model_and_keeps_it() -> None:
    text = HEAD + 'model critic {endpoint="http://127.0.0.1:8000/v1" api_key_env="K"\n' \
        'concurrency=4 without_logprobs=parse}\n'
    once = format_source(text)
    assert once.endswith('model critic {\n  endpoint         = "http://127.0.0.1:8000/v1"\n'
                         '  api_key_env      = "K"\n  concurrency      = 4\n'
                         '  without_logprobs = parse\n}\n')
    assert format_source(once) == once


def test_the_json_schema_describes_the_serving_settings() -> None:
    model = P.plan_schema()["$defs"]["Model"]
    props = model["properties"]
    assert {"endpoint", "served_model", "api_key_env", "timeout", "concurrency", "retries",
            "without_logprobs"} <= set(props)
    assert "source" not in model.get("required", [])
    assert props["concurrency"]["maximum"] == 1024 and props["timeout"]["minimum"] == 1
    assert props["without_logprobs"]["enum"] == ["stop", "parse"]
    assert "environment variable" in props["api_key_env"]["description"]


def test_the_editor_offers_and_explains_the_serving_settings() -> None:
    pytest.importorskip("pygls")
    from constlang.lsp.completion import complete

    text = "constlang 1\nmodel m {\n  endpoint = \"http://127.0.0.1:8000/v1\"\n  con\n}\n"
    found = {i.label: i for i in complete(None, text, text.index("  con") + 5)}
    assert {"concurrency", "served_model", "api_key_env", "without_logprobs"} <= set(found)
    assert "requests in flight at most" in found["concurrency"].documentation.value
    assert not {"source", "dtype", "gguf_file", "trust_remote_code"} & set(found)
    local = text.replace('endpoint = "http://127.0.0.1:8000/v1"', 'source = "x"')
    offered = {i.label for i in complete(None, local, local.index("  con") + 5)}
    assert "dtype" in offered and not {"endpoint", "concurrency", "timeout"} & offered
    enum = complete(None, text.replace("  con", "  without_logprobs = "),
                    text.index("  con") + len("  without_logprobs = "))
    assert [i.label for i in enum] == ["stop", "parse"]


def test_plan_and_render_say_where_a_served_model_runs(project: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "d.jsonl").write_text('{"prompt": "p"}\n', "utf-8")
    text = HEAD + LOCAL + CRITIC.replace("SETTINGS", "") + DATA + \
        "stage critique_revision { model = critic prompts = d }\n"
    (project / "main.const").write_text(text, "utf-8")
    monkeypatch.chdir(project)
    shown = "served at http://127.0.0.1:8000/v1 (Qwen/Qwen2.5-72B-Instruct)"
    out = CliRunner().invoke(cli, ["plan", "main.const"])
    assert out.exit_code == 0 and f"model critic: {shown}" in out.output
    out = CliRunner().invoke(cli, ["render", "main.const", "--stage", "critique_revision"])
    assert out.exit_code == 0 and f"model critic ({shown})" in out.output
    unnamed = P.Model(id="m", endpoint="http://h/v1")
    assert describe(unnamed) == "served at http://h/v1 (the server's only model)"


@pytest.mark.parametrize("upstream", [
    "stage best_of_n { policy = critic prompts = d }",
    "stage revision_pairs { from = critique_revision }",
])
def test_a_default_model_is_followed_through_stages_that_pass_weights_on(
        project: Path, upstream: str) -> None:
    kind = upstream.split()[1]
    trained = "sft" if kind == "best_of_n" else "reward_model"
    body = ROLES.replace("stage best_of_n { policy = critic prompts = d }\n", "") + upstream + \
        f"\nstage {trained} {{ from = {kind} }}\n"
    found = [d for d in compiled(project, body).diagnostics if d.code == "E119"]
    assert [d.message for d in found] == [
        f"stage `{trained}`: `model` (by default the model behind stage `{kind}`) is `critic`, "
        "a served model, but the stage trains local weights"]
    fixed = body.replace(f"{{ from = {kind} }}", f"{{ from = {kind}  model = assistant }}")
    assert compiled(project, fixed).diagnostics == []


def test_a_plan_file_follows_a_default_model_through_stages(project: Path) -> None:
    body = ROLES + "stage sft { from = best_of_n  model = assistant }\n"
    data = json.loads(compiled(project, body).plan.to_json())
    data.pop("hash")
    next(s for s in data["stages"] if s["name"] == "sft")["settings"]["model"] = None
    assert "stage `sft`: `model` is `critic`, a served model" in refused(data)
