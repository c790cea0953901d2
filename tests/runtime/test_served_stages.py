"""Stages with served models, end to end through `constlang train`, `judge-check` and `eval`
against a real `transformers serve` (tiny model) behind a fault-injecting proxy: the critic
and judge are served, sft trains local weights; an interrupted stage resumes from its journal
without asking the server again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from constlang.cli import cli

from .served_server import FaultProxy

pytest.importorskip("fastapi", reason="the served tests need transformers[serving]")

CONSTITUTION = """constlang 1
constitution "served" {{ version = "0.1.0" }}
principle harm {{ critique = "Find anything harmful."  revision = "Rewrite it without harm." }}
question safer {{ text = "Which reply is safer?" }}
check brief {{ checker = length  max = 40  unit = "words" }}
model critic {{
  endpoint = "{url}"  served_model = "{served}"  concurrency = 4  retries = 1  timeout = 60
  max_new_tokens = 6  temperature = 0.9  without_logprobs = "parse"
}}
model tiny {{ source = "{model}"  max_new_tokens = 6  temperature = 0.9 }}
dataset prompts {{ path = "prompts.jsonl" }}
dataset harmful {{ path = "harmful.jsonl" }}
dataset benign {{ path = "benign.jsonl" }}
dataset pairs {{ path = "pairs.jsonl" }}
stage critique_revision {{
  model = critic  prompts = prompts  revisions = 1  batch_size = 4
  keep_truncated = true  drop_unchanged = false  drop_meta = false
}}
stage sft {{ from = critique_revision  model = tiny  batch_size = 2 }}
stage feedback {{
  policy = critic  judge = critic  prompts = prompts  batch_size = 4
  keep_truncated = true  drop_ties = false
}}
stage best_of_n {{ policy = critic  prompts = prompts  samples = 2  checks = [brief] }}
stage evaluate {{
  baseline = tiny  models = [critic]  harmful = harmful  benign = benign  judge = critic
  questions = [safer]  judge_check = pairs  max_new_tokens = 4  samples = 1  batch_size = 4
}}
"""


def write(tmp_path: Path, url: str, served: Path, model: Path) -> Path:
    path = tmp_path / "served.const"
    path.write_text(CONSTITUTION.format(url=url, served=served, model=model), "utf-8")
    for name, n in (("prompts", 8), ("harmful", 3), ("benign", 2)):
        (tmp_path / f"{name}.jsonl").write_text("".join(
            json.dumps({"id": f"{name}-{i}", "prompt": f"{name} question number {i}?"}) + "\n"
            for i in range(n)), "utf-8")
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(
        {"prompt": f"Question {i}?", "better": "A calm and careful answer.",
         "worse": "Go away!"}) + "\n" for i in range(2)), "utf-8")
    return path


def train(path: Path, *stages: str) -> object:
    args = ["train", str(path), "--run-dir", str(path.parent / "runs"), "--device", "cpu"]
    return CliRunner().invoke(cli, [*args, "--stages", ",".join(stages)] if stages else args)


def manifest(path: Path, stage: str) -> dict:
    return json.loads((path.parent / "runs" / stage / "manifest.json").read_text())


def test_served_critic_and_judge_run_beside_a_local_sft(tmp_path: Path, proxy: FaultProxy,
                                                        tiny_model_dir: Path) -> None:
    path = write(tmp_path, proxy.url, tiny_model_dir, tiny_model_dir)
    result = train(path)
    assert result.exit_code == 0, result.output + repr(result.exception)  # type: ignore[attr-defined]
    output = result.output  # type: ignore[attr-defined]
    assert f"`critic` at {proxy.url}: " in output and " requests (0 retried" in output

    generation = manifest(path, "critique_revision")["metrics"]["generation"]
    assert generation["served"]["endpoint"] == proxy.url
    assert generation["served"]["model"] == str(tiny_model_dir)
    assert "key" not in json.dumps(generation["served"]).replace("api_key_env", "")
    journal = tmp_path / "runs" / "critique_revision" / "served" / "critic.jsonl"
    assert len(journal.read_text().splitlines()) == generation["requests"] > 8
    rows = [json.loads(x) for x in
            (tmp_path / "runs" / "critique_revision" / "rows.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(r["initial"] for r in rows)

    feedback = manifest(path, "feedback")["metrics"]["generation"]["judge"]
    assert feedback["served"]["without_logprobs"] == "parse"
    assert feedback["parsed_labels"] + feedback["unparsed_labels"] > 0  # recorded, not hidden
    assert manifest(path, "sft")["status"] == "completed"  # local weights, trained
    sampled = manifest(path, "best_of_n")["metrics"]
    assert sampled["generation"]["requests"] == 16  # 8 prompts x 2 samples, all served
    evaluate = manifest(path, "evaluate")["metrics"]
    assert evaluate["served"]["critic"]["requests"] > 0


def test_an_interrupted_stage_resumes_without_asking_again(tmp_path: Path, proxy: FaultProxy,
                                                            tiny_model_dir: Path) -> None:
    path = write(tmp_path, proxy.url, tiny_model_dir, tiny_model_dir)
    proxy.faults.fail_after = 5  # the server "goes down" after five answers
    failed = train(path, "critique_revision")
    assert failed.exit_code != 0  # type: ignore[attr-defined]
    message = failed.output  # type: ignore[attr-defined]
    assert f"model 'critic' at {proxy.url} did not answer after 2 tries (HTTP 500" in message
    assert "Traceback" not in message
    journal = tmp_path / "runs" / "critique_revision" / "served" / "critic.jsonl"
    kept = len(journal.read_text().splitlines())
    assert kept == len(proxy.faults.forwarded) >= 5  # every answer that came is kept

    proxy.faults.fail_after = None  # back up
    done = train(path, "critique_revision")
    assert done.exit_code == 0, done.output  # type: ignore[attr-defined]
    generation = manifest(path, "critique_revision")["metrics"]["generation"]
    # the chunk state holds finished rounds; the journal gives the rest of the cut one
    assert 0 < generation["reused_answers"] <= kept
    assert len(proxy.faults.forwarded) == len(set(proxy.faults.forwarded))  # none asked twice
    assert len(journal.read_text().splitlines()) == len(proxy.faults.forwarded)

    # how requests are sent is not an input: raising concurrency reruns nothing
    path.write_text(path.read_text().replace("concurrency = 4", "concurrency = 8"))
    before = len(proxy.faults.forwarded)
    again = train(path, "critique_revision")
    assert again.exit_code == 0 and len(proxy.faults.forwarded) == before  # type: ignore[attr-defined]


def test_judge_check_and_eval_through_a_served_judge(tmp_path: Path, proxy: FaultProxy,
                                                     tiny_model_dir: Path) -> None:
    path = write(tmp_path, proxy.url, tiny_model_dir, tiny_model_dir)
    base = ["judge-check", str(path), "--judge", "critic", "--pairs", "pairs", "--device", "cpu"]
    checked = CliRunner().invoke(cli, [*base, "--format", "json"])
    assert checked.exit_code in (0, 1), checked.output  # 1: below the accuracy bar
    report = json.loads(checked.stdout)  # progress and summaries go to stderr
    assert report["served"]["served"]["endpoint"] == proxy.url
    assert report["served"]["parsed_labels"] + report["served"]["unparsed_labels"] > 0

    # without the declared fallback, a server with no log-probabilities stops the judge
    path.write_text(path.read_text().replace('without_logprobs = "parse"', ""))
    stopped = CliRunner().invoke(cli, base)
    assert stopped.exit_code != 0, stopped.output
    assert "returns no log-probabilities" in stopped.output, stopped.output
    assert "Traceback" not in stopped.output

    evaluated = CliRunner().invoke(cli, ["eval", str(path), "--models", "tiny,critic",
                                         "--run-dir", str(tmp_path / "runs"), "--device", "cpu"])
    assert evaluated.exit_code != 0, evaluated.output
    assert "returns no log-probabilities" in evaluated.output, evaluated.output


def test_a_dry_run_contacts_no_endpoint(tmp_path: Path, tiny_model_dir: Path) -> None:
    from .served_server import free_port

    path = write(tmp_path, f"http://127.0.0.1:{free_port()}/v1", tiny_model_dir, tiny_model_dir)
    result = CliRunner().invoke(cli, ["train", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "critique_revision" in result.output
