"""`constlang train` end to end on a tiny model: stages, manifests, skipping, errors, --dry-run."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from constlang.cli.train import train
from constlang.compile import compile_path
from constlang.runtime.overrides import OverrideError, apply_overrides
from constlang.runtime.rundir import sha256_file, sha256_json, sha256_tree
from constlang.runtime.stages.sft import training_rows

CONSTITUTION = """constlang 1

constitution "runner-test" {{ version = "0.1.0" }}

principle harm {{ critique = "CRIT-HARM"  revision = "REV-HARM" }}
principle tone {{ critique = "CRIT-TONE"  revision = "REV-TONE" }}
{extra_decls}
model tiny {{ source = "{model}"  max_new_tokens = 4 }}
dataset d {{ path = "{data}" }}

stage critique_revision {{
  model = tiny
  prompts = d
  revisions = 2
  batch_size = 2
  keep_truncated = true  # a random tiny model never ends a reply
}}
stage sft {{ from = critique_revision  batch_size = 4  max_length = 128 }}
{extra_stages}
"""

PROMPTS = "".join(json.dumps({"id": f"p{i}", "prompt": f"Question number {i}?"}) + "\n"
                  for i in range(3))


def project(tmp_path: Path, model: Path | str, *, data: str = PROMPTS, data_name: str = "p.jsonl",
            extra_decls: str = "", extra_stages: str = "") -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    if data is not None:
        (tmp_path / "data" / "p.jsonl").write_text(data, "utf-8")
    path = tmp_path / "c.const"
    path.write_text(CONSTITUTION.format(model=model, data=f"data/{data_name}",
                                        extra_decls=extra_decls, extra_stages=extra_stages),
                    "utf-8")
    return path


def invoke(path: Path, *args: str) -> Result:
    run_dir = path.parent / "runs"
    return CliRunner().invoke(train, [str(path), "--run-dir", str(run_dir), "--device", "cpu",
                                      *args])


def manifest(path: Path, stage: str) -> dict:
    return json.loads((path.parent / "runs" / stage / "manifest.json").read_text())


def test_train_runs_critique_revision_and_sft_then_skips_both(tmp_path: Path,
                                                              tiny_model_dir: Path) -> None:
    from datasets import load_dataset

    path = project(tmp_path, tiny_model_dir)
    result = invoke(path)
    assert result.exit_code == 0, result.output
    runs = tmp_path / "runs"
    plan_hash = compile_path(path).plan.hash  # type: ignore[union-attr]

    rows = [json.loads(line) for line in (runs / "critique_revision" / "rows.jsonl").open()]
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert all(len(r["rounds"]) == 2 and r["plan_hash"] == plan_hash for r in rows)
    sft_data = load_dataset("json", data_files=str(runs / "critique_revision" / "sft.jsonl"),
                            split="train")
    assert len(sft_data) == 6
    card = (runs / "sft" / "model" / "README.md").read_text()
    assert plan_hash in card and "runner-test" in card
    assert (runs / "sft" / "model" / "config.json").is_file()
    for stage in ("critique_revision", "sft"):
        m = manifest(path, stage)
        assert m["status"] == "completed" and m["plan_hash"] == plan_hash
        assert (m["stage"], m["kind"], m["error"]) == (stage, stage, None)
        assert m["inputs_hash"].startswith("sha256:")
    folder = runs / "critique_revision"
    assert manifest(path, "critique_revision")["outputs_hash"] == sha256_json(
        [sha256_file(folder / "rows.jsonl"), sha256_file(folder / "sft.jsonl")])
    assert manifest(path, "sft")["outputs_hash"] == sha256_tree(runs / "sft" / "model")

    metrics = manifest(path, "critique_revision")["metrics"]
    assert {k: metrics[k] for k in ("prompts", "revisions", "skipped_revisions",
                                    "changed_answers", "resumed_rows")} == {
        "prompts": 3, "revisions": 3 * 2, "skipped_revisions": 0,
        "changed_answers": sum(r["final"] != r["initial"] for r in rows), "resumed_rows": 0}
    # 2 chunks (batch_size 2), each: respond, then critique and revise in each of 2 rounds
    assert (metrics["generation"]["calls"], metrics["generation"]["prompts"]) == (
        2 * (1 + 2 * 2), 3 * (1 + 2 * 2))
    logged = [json.loads(line) for line in (folder / "metrics.jsonl").open()]
    assert [(e["event"], e.get("chunk"), e.get("prompts")) for e in logged] == [
        ("chunk", 0, 2), ("chunk", 1, 1), ("completed", None, 3)]

    # sft trains on each distinct revision of a prompt once, batch_size 4, 1 epoch
    sft = manifest(path, "sft")["metrics"]
    trained = len(training_rows(folder / "sft.jsonl", "all"))
    assert (sft["rows"], sft["steps"]) == (trained, math.ceil(trained / 4))
    logged = [json.loads(line) for line in (runs / "sft" / "metrics.jsonl").open()]
    steps = [e for e in logged if e["event"] == "train" and "loss" in e]
    assert [e["step"] for e in steps] == list(range(1, sft["steps"] + 1))  # logged every step
    assert sft["train_loss"] == pytest.approx(sum(e["loss"] for e in steps) / len(steps),
                                              abs=1e-5)
    assert [e["event"] for e in logged] == ["train"] * (len(steps) + 1) + ["completed"]

    for row in rows:  # what changed is shown, for every prompt (3 shown at most)
        assert f"prompt p{row['index']}: Question number {row['index']}?" in result.output
    assert result.output.count("(unchanged)") == sum(r["final"] == r["initial"] for r in rows)

    # the run ends with one table row per stage: status, time, key metrics, artefacts
    table = result.output[result.output.index(f"run {runs}"):].splitlines()
    row = {line.split()[0]: " ".join(line.split()) for line in table[3:] if line.strip()}
    assert "completed" in row["critique_revision"] and "critique_revision/" in " ".join(table)
    assert "6 revisions" in row["critique_revision"] and "sft/" in row["sft"]
    assert f"{sft['steps']} steps, loss" in row["sft"]

    first = {s: manifest(path, s) for s in ("critique_revision", "sft")}
    again = invoke(path)
    assert again.exit_code == 0, again.output
    assert again.output.count("completed earlier with the same inputs; skipped") == 2
    assert {s: manifest(path, s) for s in first} == first  # untouched

    # new data changes the inputs of both stages: both run again
    (tmp_path / "data" / "p.jsonl").write_text(PROMPTS.splitlines()[0] + "\n", "utf-8")
    changed = invoke(path)
    assert changed.exit_code == 0, changed.output
    assert "inputs changed since the last run; starting over" in changed.output
    assert manifest(path, "critique_revision")["metrics"]["prompts"] == 1


def test_dry_run_renders_the_first_batch_without_loading_a_model(tmp_path: Path) -> None:
    path = project(tmp_path, "/no/such/model")
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from constlang.cli.train import train\n"
        f"r = CliRunner().invoke(train, [{str(path)!r}, '--dry-run', '--verbose', '--run-dir', "
        f"{str(tmp_path / 'runs')!r}])\n"
        "print(r.output)\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = [m for m in ('torch', 'transformers', 'trl', 'datasets') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "runner-test 0.1.0" in out
    for i in (0, 1):  # the first batch (batch_size = 2), and not the prompt after it
        assert f"critique_revision · prompt p{i} · respond" in out
    assert "prompt p2" not in out
    assert "CRIT-" in out and "REV-" in out and "<the model's critique>" in out
    assert not (tmp_path / "runs").exists()


def test_a_missing_prompt_file_stops_train_at_the_check(tmp_path: Path) -> None:
    path = project(tmp_path, "/no/such/model", data_name="missing.jsonl")
    result = invoke(path)
    assert result.exit_code == 1
    assert "E207 error: dataset `d`: no file `data/missing.jsonl`" in result.output
    assert "stage `critique_revision` reads it as `prompts`" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(("data", "data_name", "message"), [
    ('{"prompt": "a"}\n{"prompt": "b"\n', "p.jsonl", "p.jsonl:2: malformed JSON"),
    ("", "p.jsonl", "has no prompts"),
    ('{"id": 1, "text": "a"}\n', "p.jsonl", "p.jsonl:1: no `prompt` field"),
])
def test_bad_prompt_files_give_one_line_errors(tmp_path: Path, data: str, data_name: str,
                                               message: str) -> None:
    path = project(tmp_path, "/no/such/model", data=data, data_name=data_name)
    result = invoke(path)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: stage `critique_revision`: ")
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_missing_model_is_a_one_line_error_and_keeps_earlier_runs(tmp_path: Path) -> None:
    path = project(tmp_path, tmp_path / "no-model")
    result = invoke(path)
    assert result.exit_code == 1
    assert "error: stage `critique_revision`: model 'tiny'" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs" / "critique_revision").exists()  # nothing was started


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "critique_revision.bogus=1"], "has no setting `bogus`; settings: sampling,"),
    (["--set", "critique_revision.revisions=0"],
     "`critique_revision.revisions`: must be >= 1 and <= 64, got 0"),
    (["--set", "critique_revision.model=other"], "names another declaration"),
    (["--set", "nope.x=1"], "no stage `nope`; stages: critique_revision, sft"),
    (["--set", "revisions"], "expected STAGE.KEY=VALUE"),
    (["--stages", "critique_revision,nope"], "--stages: no stage nope"),
    # a misspelling leads with the closest name, then lists them all (issue #20)
    (["--set", "critique_revision.revisionz=3"],
     "has no setting `revisionz` (did you mean `revisions`?); settings: sampling,"),
    (["--set", "critique_revison.revisions=3"],
     "no stage `critique_revison` (did you mean `critique_revision`?); stages: "),
    (["--stages", "sfx"], "--stages: no stage sfx (did you mean `sft`?); stages: "),
])
def test_bad_options_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = invoke(project(tmp_path, "/no/such/model"), "--dry-run", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_compile_errors_are_printed_with_their_location(tmp_path: Path) -> None:
    path = project(tmp_path, "/m")
    path.write_text(path.read_text().replace("revisions = 2", "revisions = 0"))
    result = invoke(path, "--dry-run")
    assert result.exit_code == 1
    assert "c.const:" in result.stderr and "nothing was trained" in result.stderr


def test_stage_that_needs_an_unfinished_stage(tmp_path: Path) -> None:
    result = invoke(project(tmp_path, "/m"), "--stages", "sft")
    assert result.exit_code == 1
    assert "stage `sft` needs stage `critique_revision` to be completed first" in result.stderr


FEEDBACK_DECLS = 'question better { text = "Which is better?" }'
FEEDBACK_STAGE = ("stage feedback { policy = sft  judge = tiny  prompts = d }\n"
                  "stage reward_model { from = feedback }\n"
                  "stage dpo { from = feedback  policy = sft }")


def test_kinds_not_implemented_stop_the_run(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from constlang.runtime import stages

    # every shipped kind has a runner; a kind listed without one (a plugin's record whose
    # runner is not installed) stops the run before anything is written
    monkeypatch.delitem(stages.base.BY_KIND, "dpo")
    path = project(tmp_path, "/m", extra_decls=FEEDBACK_DECLS, extra_stages=FEEDBACK_STAGE)
    result = invoke(path, "--stages", "dpo")
    assert result.exit_code == 1, result.output
    assert "stage `dpo` (dpo) is not implemented yet" in " ".join(result.output.split())
    assert not (tmp_path / "runs" / "dpo").exists()


def test_overrides_replace_settings_and_the_plan_hash(tmp_path: Path) -> None:
    plan = compile_path(project(tmp_path, "/m")).plan
    assert plan is not None
    changed = apply_overrides(plan, {"critique_revision": {"revisions": 3, "sampling": "in_order"},
                                     "sft": {"lora": True}})
    s = changed.stage("critique_revision").settings
    assert (s.revisions, s.sampling) == (3, "in_order")
    assert changed.stage("sft").settings.lora is True
    assert [st.repeat for st in changed.program("critique_revision").steps] == [1, 3, 3]
    assert changed.hash == changed.compute_hash() != plan.hash
    with pytest.raises(OverrideError, match="sampling"):
        apply_overrides(plan, {"critique_revision": {"sampling": "sometimes"}})


def test_out_of_memory_becomes_advice_and_bugs_stay_bugs() -> None:
    import torch

    from constlang.runtime.runner import user_message

    message = user_message("sft", torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert message is not None and "ran out of memory" in message
    assert "--set sft.batch_size=N" in message
    assert user_message("sft", KeyError("bug")) is None


def test_train_without_the_training_extras_says_what_to_install(tmp_path: Path,
                                                                monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("trl", "peft") else real(name, *a))
    result = invoke(project(tmp_path, "unused-model"))
    assert result.exit_code == 2
    assert "needs trl, peft, which are not installed" in result.output
    assert "pip install 'constlang[train]'" in result.output
    assert not (tmp_path / "runs").exists()


def test_a_compiled_plan_runs_like_its_constitution(tmp_path: Path, tiny_model_dir: Path) -> None:
    from constlang.cli import cli

    path = project(tmp_path, tiny_model_dir)
    plan_json = tmp_path / "plan.json"
    compiled = CliRunner().invoke(cli, ["compile", str(path), "-o", str(plan_json)])
    assert compiled.exit_code == 0, compiled.output
    (tmp_path / "constlang.toml").write_text("")  # the project root the plan's paths start from
    result = invoke(plan_json, "--stages", "critique_revision")
    assert result.exit_code == 0, result.output
    plan_hash = json.loads(plan_json.read_text())["hash"]
    assert manifest(plan_json, "critique_revision")["plan_hash"] == plan_hash
    # the same plan from its constitution: the same inputs, so the stage is skipped
    again = invoke(path, "--stages", "critique_revision")
    assert "completed earlier with the same inputs; skipped" in again.output


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["stages"][0]["settings"].update(revisions=1), "does not match its content"),
    (lambda d: d["stages"][0]["settings"].update(revisions="many"),
     "not a valid plan: stages.0"),
    (lambda d: d.update(stages="none"), "not a valid plan: stages"),
])
def test_an_edited_or_broken_plan_is_refused_in_one_line(tmp_path: Path, edit, message) -> None:  # type: ignore[no-untyped-def]
    from constlang.cli import cli

    path = project(tmp_path, "/m")
    plan_json = tmp_path / "plan.json"
    assert CliRunner().invoke(cli, ["compile", str(path), "-o", str(plan_json)]).exit_code == 0
    data = json.loads(plan_json.read_text())
    edit(data)
    plan_json.write_text(json.dumps(data))
    result = invoke(plan_json, "--dry-run")
    assert result.exit_code == 1
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    data.pop("hash")  # without a hash a hand-edited plan runs as written
    if isinstance(data["stages"], list) and data["stages"][0]["settings"]["revisions"] == 1:
        plan_json.write_text(json.dumps(data))
        assert invoke(plan_json, "--dry-run").exit_code == 0
