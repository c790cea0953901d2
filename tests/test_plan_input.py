"""`constlang train PLAN.json` under hostile plan files (issue #17, classes 1, 2 and 7): a plan
is untrusted input, held to the rules a constitution is — names that become folders, the
project-root rule for datasets, references, stage order and its format version."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from constlang.cli import cli
from constlang.cli.plan_input import load_plan_file
from constlang.compile import compile_path
from constlang.declarations import FOLDER_NAME, IDENTIFIER
from constlang.errors import UserError

SECRET = "TOP-SECRET-OUTSIDE-THE-PROJECT"
CONSTITUTION = """constlang 1
constitution "plan-file" { version = "0.1.0" }
principle harm { critique = "Find harm."  revision = "Remove it." }
question safer { text = "Which reply is safer?" }
model m { source = "embedded:smollm2-135m-instruct"  max_new_tokens = 8 }
dataset d { path = "data.jsonl" }
stage critique_revision { model = m  prompts = d  revisions = 1 }
stage sft { from = critique_revision }
stage feedback { policy = sft  judge = m  prompts = d }
stage reward_model { from = feedback }
stage ppo { policy = sft  reward = reward_model  prompts = d }
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project holding the constitution, its data, and a folder beside it with a secret."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "constlang.toml").write_text("")
    (root / "c.const").write_text(CONSTITUTION)
    (root / "data.jsonl").write_text('{"prompt": "hello"}\n')
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "rows.jsonl").write_text(json.dumps({"prompt": SECRET}) + "\n")
    monkeypatch.chdir(root)
    return root


def compiled(root: Path) -> dict[str, Any]:
    result = compile_path(root / "c.const")
    assert result.plan is not None
    data: dict[str, Any] = json.loads(result.plan.to_json())
    del data["hash"]  # a plan edited by hand runs as written when it carries no hash
    return data


def train(root: Path, data: dict[str, Any], *args: str) -> tuple[int, str]:
    (root / "plan.json").write_text(json.dumps(data))
    r = CliRunner().invoke(cli, ["train", "plan.json", "--dry-run", *args])
    assert "Traceback" not in r.output and "internal error" not in r.output, r.output
    return r.exit_code, r.output


def outside_untouched(root: Path) -> None:
    around = sorted(p.name for p in root.parent.iterdir())
    assert around == ["outside", "project"], around
    assert sorted(p.name for p in (root.parent / "outside").iterdir()) == ["rows.jsonl"]


def test_the_compiled_plan_itself_runs(project: Path) -> None:
    code, out = train(project, compiled(project))
    assert code == 0, out


TRAVERSALS = ["../../../somewhere", "../x", "/tmp/absolute", "..", ".", "a/../../b",
              "x\\..\\y", "sub/stage", "~", "critique revision", "stage\x00", "",
              "é", "a" * 300]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_a_stage_name_that_is_a_path_is_refused_before_anything_runs(project: Path,
                                                                     name: str) -> None:
    data = compiled(project)
    data["stages"][1]["name"] = name  # sft
    data["stages"][2]["settings"]["policy"] = name
    data["stages"][2]["depends_on"] = [name]
    for program in data["programs"]:
        if program["stage"] == "sft":
            program["stage"] = name
    code, out = train(project, data)
    assert code == 1 and "not a valid plan" in out, out
    outside_untouched(project)


@pytest.mark.parametrize("name", TRAVERSALS + ["-rf", ".hidden"])
def test_a_constitution_name_that_is_a_path_is_refused(project: Path, name: str) -> None:
    data = compiled(project)
    data["constitution"]["name"] = name
    code, out = train(project, data)
    assert code == 1 and "cannot name its run directory" in out, out
    outside_untouched(project)


@pytest.mark.parametrize("path", ["../outside/rows.jsonl", "{outside}/rows.jsonl",
                                  "sub/../../outside/rows.jsonl", "link.jsonl",
                                  "linkdir/rows.jsonl", "./../outside/rows.jsonl"])
def test_a_dataset_outside_the_project_root_is_refused_unless_allowed(project: Path,
                                                                      path: str) -> None:
    (project / "link.jsonl").symlink_to(project.parent / "outside" / "rows.jsonl")
    (project / "linkdir").symlink_to(project.parent / "outside", target_is_directory=True)
    (project / "sub").mkdir()
    data = compiled(project)
    data["datasets"][0]["path"] = path.format(outside=project.parent / "outside")
    code, out = train(project, data)
    assert code == 1 and "outside the project root" in out and "E205" in out, out
    assert SECRET not in out
    code, out = train(project, data, "--allow-outside-root")
    assert code == 0 and SECRET in out, out  # trusted on request, and read as written


@pytest.mark.parametrize("version, message", [
    (2, "written by a newer constlang"), (999, "written by a newer constlang"),
    (0, "compile the constitution again"), (-1, "compile the constitution again")])
def test_a_plan_of_another_format_version_is_refused(project: Path, version: int,
                                                     message: str) -> None:
    data = compiled(project)
    data["format_version"] = version
    code, out = train(project, data)
    assert code == 1 and message in out, out


def _dup_stage(d: dict[str, Any]) -> None:
    d["stages"].append(copy.deepcopy(d["stages"][0]))


def _dup_principle(d: dict[str, Any]) -> None:
    d["principles"].append(copy.deepcopy(d["principles"][0]))


def _dup_model(d: dict[str, Any]) -> None:
    d["models"].append(copy.deepcopy(d["models"][0]))


def _self_dep(d: dict[str, Any]) -> None:
    d["stages"][1]["depends_on"] = ["sft"]


def _unknown_dep(d: dict[str, Any]) -> None:
    d["stages"][1]["depends_on"] = ["nowhere"]


def _later_dep(d: dict[str, Any]) -> None:
    d["stages"][1]["depends_on"] = ["critique_revision", "ppo"]


def _missing_dep(d: dict[str, Any]) -> None:
    d["stages"][1]["depends_on"] = []


def _unknown_model(d: dict[str, Any]) -> None:
    d["stages"][0]["settings"]["model"] = "nobody"


def _unknown_dataset(d: dict[str, Any]) -> None:
    d["stages"][0]["settings"]["prompts"] = "nothing"


def _unknown_principle(d: dict[str, Any]) -> None:
    d["stages"][0]["settings"]["principles"] = ["harm", "missing"]


def _wrong_kind(d: dict[str, Any]) -> None:
    d["stages"][4]["settings"]["reward"] = "sft"
    d["stages"][4]["depends_on"] = ["sft"]


def _swapped_order(d: dict[str, Any]) -> None:
    d["stages"][0], d["stages"][1] = d["stages"][1], d["stages"][0]


def _orphan_program(d: dict[str, Any]) -> None:
    d["programs"][0]["stage"] = "ghost"


def _step_model(d: dict[str, Any]) -> None:
    d["programs"][0]["steps"][0]["model"] = "ghost"


@pytest.mark.parametrize("edit, message", [
    (_dup_stage, "two stage declarations are named `critique_revision`"),
    (_dup_principle, "two principle declarations are named `harm`"),
    (_dup_model, "two model declarations are named `m`"),
    (_self_dep, "stage `sft` depends on itself"),
    (_unknown_dep, "depends on `nowhere`, which is not a stage before it"),
    (_later_dep, "depends on `ppo`, which is not a stage before it"),
    (_missing_dep, "missing from its `depends_on`"),
    (_unknown_model, "`model` names `nobody`, no model"),
    (_unknown_dataset, "`prompts` names `nothing`, no dataset"),
    (_unknown_principle, "`principles` selects `missing`"),
    (_wrong_kind, "it takes a stage of kind reward_model"),
    (_swapped_order, "depends on `critique_revision`, which is not a stage before it"),
    (_orphan_program, "names stage `ghost`, which the plan lacks"),
    (_step_model, "calls `ghost`, which is neither a model nor a stage"),
])
def test_a_plan_that_breaks_the_language_rules_is_refused_with_the_rule(
        project: Path, edit: Any, message: str) -> None:
    data = compiled(project)
    edit(data)
    code, out = train(project, data)
    assert code == 1 and message in out, out


def test_a_plan_that_is_not_a_regular_file_is_refused_without_blocking(project: Path) -> None:
    os.mkfifo(project / "fifo.json")
    r = CliRunner().invoke(cli, ["train", "fifo.json", "--dry-run"])
    assert r.exit_code == 1 and "FIFO" in r.output, r.output


# ---------------------------------------------------------------- property: any mutation

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=12) | st.sampled_from(["..", "../x", "/etc", "all", "sft",
                                                              "m", "d", "harm"]),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "250")) // 2, deadline=None,
          derandomize=not os.environ.get("FUZZ_EXPLORE"),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_mutation_of_a_plan_loads_safely_or_is_one_error(project: Path,
                                                             data: st.DataObject) -> None:
    """Replace, drop or add values anywhere in a valid plan: loading gives a plan that keeps
    every promise (names are plain folder names, datasets inside the root), or a UserError."""
    plan = compiled(project)
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(_paths(plan)[1:]))
        parent: Any = plan
        for key in where[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "drop":
            del parent[where[-1]]
        elif action == "add" and isinstance(parent, list):
            parent.append(data.draw(JSON))
        else:
            parent[where[-1]] = data.draw(JSON)
    (project / "plan.json").write_text(json.dumps(plan))
    try:
        loaded = load_plan_file(str(project / "plan.json"))
    except UserError as exc:
        assert "\n" not in str(exc)
        return
    import re

    assert FOLDER_NAME.fullmatch(loaded.plan.constitution.name)
    for stage in loaded.plan.stages:
        assert re.fullmatch(IDENTIFIER.strip("^$"), stage.name)
    for ds in loaded.plan.datasets:
        (project / ds.path).resolve().relative_to(project.resolve())
