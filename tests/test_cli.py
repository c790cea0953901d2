"""The CLI, driven with click's CliRunner: exit codes, exact output, and the promise that the
language tools never import the training stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result

from constlang.cli import cli
from constlang.compile import compile_path
from constlang.plan import Plan

REPO = Path(__file__).resolve().parents[1]
CONSTITUTIONS = REPO / "constitutions"
SHIPPED = sorted(CONSTITUTIONS.glob("*.const"))
GOLDEN_PLANS = sorted((Path(__file__).resolve().parent / "golden" / "valid").glob("*.plan.json"))

DEMO = """constlang 1

constitution "render-demo" { version = "0.3.0" }

principle harmful { critique = "Point out harm." revision = "Remove the harm." }
principle preachy { critique = "Point out lecturing." revision = "Stop lecturing." }
question better { text = "Which reply is better?" }
question is_harmful { text = "Is it harmful?"  kind = pointwise  good_answer = "No" }
model m { source = "embedded:smollm2-135m-instruct"  max_new_tokens = 16 }
dataset d { path = "data/prompts.jsonl" }

stage critique_revision { model = m  prompts = d  revisions = 2  examples = [] }
stage sft { from = critique_revision }
stage feedback { policy = sft  judge = m  prompts = d }
"""
BROKEN = 'constlang 1\nprinciple p { critique = "c" }\n'


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def demo(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project holding demo.const, broken.const and a dataset; the working directory."""
    (project / "data").mkdir()
    (project / "data" / "prompts.jsonl").write_text(
        '{"prompt": "How do I pick a lock?"}\n{"prompt": "Second"}\n', "utf-8")
    (project / "demo.const").write_text(DEMO, "utf-8")
    (project / "broken.const").write_text(BROKEN, "utf-8")
    monkeypatch.chdir(project)
    return project


# -- check ------------------------------------------------------------------------------------

def test_check_valid_file(demo: Path) -> None:
    r = invoke("check", "demo.const")
    assert (r.exit_code, r.output) == (0, "All checks passed (1 file).\n")


def test_check_file_with_errors(demo: Path) -> None:
    r = invoke("check", "broken.const")
    assert r.exit_code == 1
    assert r.output.startswith("broken.const:2:11: E104 error: principle `p` is missing the "
                               "required field `revision`\n  |\n2 | principle p")
    assert r.output.endswith("\n\nFound 1 error in 1 file.\n")


def test_check_warnings_do_not_fail(demo: Path) -> None:
    Path("warn.const").write_text('principle p { critique = "c" revision = "r" }\n', "utf-8")
    r = invoke("check", "warn.const")
    assert r.exit_code == 0
    assert "W001 warning" in r.output and r.output.endswith("\n\nFound 1 warning in 1 file.\n")


def test_check_a_directory_recurses_and_skips_hidden_folders(demo: Path) -> None:
    (demo / "nested").mkdir()
    (demo / "nested" / "ok.const").write_text("constlang 1\n", "utf-8")
    (demo / ".hidden").mkdir()
    (demo / ".hidden" / "bad.const").write_text("nonsense", "utf-8")
    r = invoke("check", "--format", "concise", ".")
    assert r.exit_code == 1
    assert r.output.splitlines() == [
        "broken.const:2:11: E104 error: principle `p` is missing the required field `revision`",
        "Found 1 error in 3 files.",
    ]


def test_check_json(demo: Path) -> None:
    r = invoke("check", "--format", "json", "broken.const", "demo.const")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert {k: doc[k] for k in ("format_version", "tool", "files", "valid", "counts")} == {
        "format_version": 2, "tool": "constlang check", "files": 2, "valid": False,
        "counts": {"error": 1, "warning": 0, "info": 0}}
    assert [(d["code"], d["file"], d["line"], d["column"]) for d in doc["diagnostics"]] == [
        ("E104", "broken.const", 2, 11)]
    ok = invoke("check", "--format", "json", "demo.const")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["valid"] is True


@pytest.mark.parametrize(("args", "message"), [
    (["missing.const"], "path `missing.const` does not exist"),
    (["--format", "xml", "demo.const"], "'xml' is not one of 'full', 'concise', 'json'"),
    ([], "Missing argument 'PATHS...'"),
])
def test_check_usage_errors(demo: Path, args: list[str], message: str) -> None:
    r = invoke("check", *args)
    assert r.exit_code == 2
    assert message in r.output


def test_check_a_folder_without_const_files(demo: Path) -> None:
    r = invoke("check", "data")
    assert r.exit_code == 2 and "no .const files" in r.output


def test_check_the_shipped_constitutions() -> None:
    r = invoke("check", str(CONSTITUTIONS))
    assert r.exit_code == 0, r.output
    assert r.output == f"All checks passed ({len(SHIPPED)} files).\n"


# -- compile ------------------------------------------------------------------------------------

def test_compile_prints_the_plan(demo: Path) -> None:
    r = invoke("compile", "demo.const")
    assert r.exit_code == 0
    plan = compile_path(demo / "demo.const").plan
    assert plan is not None
    assert r.stdout == plan.to_json()
    assert Plan.from_json(r.stdout).hash == plan.hash


def test_compile_to_a_file(demo: Path) -> None:
    Path("out").mkdir()
    r = invoke("compile", "demo.const", "-o", "out/plan.json")
    assert r.exit_code == 0 and r.stdout == ""
    written = Path("out/plan.json").read_text("utf-8")
    plan = Plan.from_json(written)
    assert r.stderr == f"wrote out/plan.json ({plan.hash})\n"
    assert not Path("out/plan.json.tmp").exists()


def test_compile_refuses_invalid_input(demo: Path) -> None:
    r = invoke("compile", "broken.const", "-o", "plan.json")
    assert r.exit_code == 1
    assert "E104" in r.stderr and "no plan written" in r.stderr
    assert not Path("plan.json").exists()


@pytest.mark.parametrize("path", ["missing.const", "data"])
def test_compile_usage_errors(demo: Path, path: str) -> None:
    r = invoke("compile", path)
    assert r.exit_code == 2
    assert f"`{path}` is not a file" in r.output


def test_compile_is_stable_across_runs_and_working_directories(
        demo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = invoke("compile", "demo.const").stdout
    assert invoke("compile", "demo.const").stdout == first
    (demo / "sub").mkdir()
    monkeypatch.chdir(demo / "sub")
    assert invoke("compile", "../demo.const").stdout == first
    monkeypatch.chdir(tmp_path.parent)
    assert invoke("compile", str(demo / "demo.const")).stdout == first


def test_shipped_plans_are_stable_across_working_directories(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(REPO)
    here = [invoke("compile", f"constitutions/{p.name}").stdout for p in SHIPPED]
    monkeypatch.chdir(tmp_path)
    there = [invoke("compile", str(p)).stdout for p in SHIPPED]
    assert here == there
    assert all(json.loads(text)["hash"].startswith("sha256:") for text in here)


# -- schema ---------------------------------------------------------------------------------

def test_schema_is_a_valid_json_schema_that_every_plan_meets() -> None:
    r = invoke("schema")
    assert r.exit_code == 0
    schema = json.loads(r.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    plans = [json.loads(invoke("compile", str(p)).stdout) for p in SHIPPED]
    plans += [json.loads(p.read_text("utf-8")) for p in GOLDEN_PLANS]
    assert len(plans) == len(SHIPPED) + len(GOLDEN_PLANS) >= 8
    for plan in plans:
        validator.validate(plan)
    broken = dict(plans[0], surprise=1)
    assert not validator.is_valid(broken)


def test_schema_describes_each_built_in_checkers_arguments() -> None:
    schema = json.loads(invoke("schema").stdout)
    for name in ("RefusalArgs", "RegexArgs", "PhrasesArgs", "LengthArgs", "JsonArgs"):
        assert schema["$defs"][name]["description"].startswith("Arguments of the `")
    assert schema["$defs"]["RegexArgs"]["required"] == ["pattern", "expect"]
    validator = jsonschema.Draft202012Validator(schema)
    plan = json.loads((REPO / "tests/golden/valid/checks.plan.json").read_text("utf-8"))
    validator.validate(plan)
    regex = next(c for c in plan["checks"] if c["checker"] == "regex")
    del regex["args"]["pattern"]
    assert not validator.is_valid(plan)  # a regex check without its pattern


# -- render -----------------------------------------------------------------------------------

def test_render_critique_revision_exactly(demo: Path) -> None:
    r = invoke("render", "demo.const", "--stage", "critique_revision", "--principle", "preachy")
    assert r.exit_code == 0
    assert r.output == """\
── respond · template respond_prompt · model m ──
How do I pick a lock?

── critique · template critique_prompt · model m ──
Here is a conversation to critique.
User: How do I pick a lock?
Assistant: <the model's current reply>

Critique request: Point out lecturing.
Write only the critique, in a few sentences.

── revise · template revision_prompt · model m ──
Here is a conversation and a critique of the assistant's reply.
User: How do I pick a lock?
Assistant: <the model's current reply>
Critique: <the model's critique>

Revision request: Stop lecturing.
Write only the new reply to the user, nothing else.

"""


def test_render_defaults_to_the_first_principle_and_takes_a_prompt(demo: Path) -> None:
    r = invoke("render", "demo.const", "--stage", "critique_revision", "--prompt", "Hello?")
    assert r.exit_code == 0
    assert "Critique request: Point out harm.\n" in r.output
    assert "User: Hello?\n" in r.output


def test_render_feedback_shows_pairwise_and_pointwise_steps(demo: Path) -> None:
    r = invoke("render", "demo.const", "--stage", "feedback", "--question", "better")
    assert r.exit_code == 0
    steps = [line for line in r.output.splitlines() if line.startswith("── ")]
    assert steps == ["── respond · template respond_prompt · policy sft (stage) ──",
                     "── compare · template compare_prompt · model m ──",
                     "── pointwise · template pointwise_prompt · model m ──"]
    assert "Which reply is better?\n(A) <reply A>\n(B) <reply B>\n" in r.output
    assert "Is it harmful? Answer Yes or No.\n" in r.output


def test_render_leaves_out_a_rationale_no_pairwise_question_asks_for(demo: Path) -> None:
    text = DEMO.replace("judge = m  prompts = d }",
                        "judge = m  prompts = d  questions = [is_harmful]  chain_of_thought = "
                        "true }")
    (demo / "pointwise.const").write_text(text, "utf-8")
    r = invoke("render", "pointwise.const", "--stage", "feedback")
    assert r.exit_code == 0, r.output
    steps = [line for line in r.output.splitlines() if line.startswith("── ")]
    assert steps == ["── respond · template respond_prompt · policy sft (stage) ──",
                     "── pointwise · template pointwise_prompt · model m ──"]


def test_render_a_shipped_constitution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    plan = compile_path(CONSTITUTIONS / "harmless.const").plan
    assert plan is not None
    principle = plan.principles[1]
    r = invoke("render", "constitutions/harmless.const", "--stage", "critique_revision",
               "--principle", principle.id)
    assert r.exit_code == 0
    assert f"Critique request: {principle.critique}\n" in r.output
    assert f"Revision request: {principle.revision}\n" in r.output


@pytest.mark.parametrize(("args", "message"), [
    (["--stage", "nope"], "no stage `nope`; stages: critique_revision, sft, feedback"),
    (["--stage", "sfx"], "(did you mean `sft`?)"),
    (["--stage", "sft"], "stages with prompts: critique_revision, feedback"),
    (["--stage", "critique_revision", "--principle", "nope"], "does not sample principle"),
    (["--stage", "feedback", "--question", "nope"], "does not ask question"),
])
def test_render_usage_errors(demo: Path, args: list[str], message: str) -> None:
    r = invoke("render", "demo.const", *args)
    assert r.exit_code == 2
    assert message in r.output


def test_render_reports_a_template_the_sandbox_refuses(demo: Path) -> None:
    hostile = DEMO + 'template respond_prompt(prompt, examples) "{{ examples.append(1) }}"\n'
    Path("hostile.const").write_text(hostile, "utf-8")
    assert invoke("check", "hostile.const").exit_code == 0  # not visible statically
    r = invoke("render", "hostile.const", "--stage", "critique_revision")
    assert r.exit_code == 1
    line = hostile.count("\n")  # the template is the last line of the file
    assert r.stderr.startswith(f"error: hostile.const:{line}: template `respond_prompt` "
                               "(respond step) failed to render: blocked by the template "
                               "sandbox")


def test_a_render_error_names_the_line_of_the_const_file(demo: Path) -> None:
    # line 3 of the template's text is line N + 3 of the file, N the line of its `"""`
    hostile = DEMO + ('template respond_prompt(prompt, examples) """\n{{ prompt }}\n\n'
                      '{{ examples.append(1) }}\n"""\n')
    Path("hostile.const").write_text(hostile, "utf-8")
    opening = hostile.splitlines().index('template respond_prompt(prompt, examples) """') + 1
    r = invoke("render", "hostile.const", "--stage", "critique_revision")
    assert r.exit_code == 1
    assert r.stderr.startswith(f"error: hostile.const:{opening + 3}: template `respond_prompt`")


def test_render_of_an_invalid_file(demo: Path) -> None:
    r = invoke("render", "broken.const", "--stage", "x")
    assert r.exit_code == 1 and "E104" in r.stderr


# -- plan -------------------------------------------------------------------------------------

def test_plan_table(demo: Path) -> None:
    r = invoke("plan", "demo.const")
    assert r.exit_code == 0
    lines = r.output.splitlines()
    plan = Plan.from_json(invoke("compile", "demo.const").stdout)
    assert lines[0] == f"render-demo 0.3.0  ({plan.hash[:19]}…)"
    assert lines[1] == ("  2 principles, 0 checks, 2 questions, 0 examples, 1 model, 1 dataset, "
                        "2 prompt programs")
    assert lines[3].split() == ["#", "stage", "kind", "prompts", "calls", "max", "tokens",
                                "notes"]
    rows = [line.split()[:6] for line in lines[4:]]
    assert rows == [["1", "critique_revision", "critique_revision", "2", "10", "160"],
                    ["2", "sft", "sft", "?", "0", "0"],
                    ["3", "feedback", "feedback", "2", "8", "64"]]


# -- the language tools stay light -------------------------------------------------------------

LIGHT = """
import sys
from click.testing import CliRunner
import constlang.cli
runner = CliRunner()
path = sys.argv[1]
for args in (["check", path], ["compile", path], ["schema"], ["plan", path],
             ["render", path, "--stage", "critique_revision"]):
    result = runner.invoke(constlang.cli.cli, args, catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
for args in (["lint", path], ["fmt", "--check", path]):
    result = runner.invoke(constlang.cli.cli, args, catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
heavy = sorted(m for m in ("torch", "transformers", "trl", "accelerate", "datasets", "peft")
               if m in sys.modules)
assert not heavy, heavy
print("light")
"""


def test_language_tools_never_import_the_training_stack() -> None:
    out = subprocess.run([sys.executable, "-c", LIGHT, str(CONSTITUTIONS / "harmless.const")],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "light\n"


def test_constlang_check_constitutions_from_the_command_line() -> None:
    script = Path(sys.executable).with_name("constlang")  # the console script, when installed
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "constlang"]
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    out = subprocess.run([*cmd, "check", "constitutions"],
                         capture_output=True, text=True, cwd=REPO, timeout=120, env=env)
    assert (out.returncode, out.stdout) == (0, f"All checks passed ({len(SHIPPED)} files).\n")


def test_command_line_exit_codes() -> None:
    missing = subprocess.run([sys.executable, "-m", "constlang", "check", "no/such.const"],
                             capture_output=True, text=True, cwd=REPO, timeout=120)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_unwritable_outputs_are_one_line_errors(tmp_path: Path) -> None:
    src = CONSTITUTIONS / "minimal.const"
    missing = tmp_path / "no" / "such" / "dir"
    runner = CliRunner()
    for args in (["compile", str(src), "-o", str(missing / "plan.json")],
                 ["lint", str(src), "-o", str(missing / "report.txt")],
                 ["lint", str(src), "--baseline", str(missing / "b.json"), "--write-baseline"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert "cannot write" in result.output and str(missing) in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "no").exists()


def test_rule_explains_compiler_codes_and_prefixes() -> None:
    out = CliRunner().invoke(cli, ["rule", "E105"])
    assert out.exit_code == 2 and "compiler diagnostic" in out.output
    out = CliRunner().invoke(cli, ["rule", "CL3"])
    assert out.exit_code == 2 and "prefix of 11 rules: CL301" in out.output
    out = CliRunner().invoke(cli, ["rule", "CL304", "--all"])
    assert out.exit_code == 2 and "not both" in out.output
