"""The typed plan: JSON round trips, the content hash, strictness, stage order and sources."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from constlang.compile import CompileResult, compile_path
from constlang.plan import Plan

Compile = Callable[..., CompileResult]
REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "constitutions").glob("*.const"))

BASE = """constlang 1
constitution "plan-test" { version = "1.0.0" }

principle harmful { critique = "Point out harm." revision = "Remove it." weight = 2 }
principle preachy { critique = "Point out lecturing." revision = "Stop it." }
question better { text = "Which reply is better?" }
model m { source = "embedded:smollm2-135m-instruct" }
dataset d { path = "data/d.jsonl" }
template respond_prompt(prompt) "Q: {{ prompt }}"

stage critique_revision { model = m  prompts = d }
stage sft { from = critique_revision }
stage feedback { policy = sft  judge = m  prompts = d }
"""

# BASE again with different layout and comments: what the plan does is the same.
REFORMATTED = """# A comment before the header.
constlang 1

constitution "plan-test" {
  version = "1.0.0"   # same version
}

# Principles, spread over lines.
principle harmful {
  critique = "Point out harm."
  revision = "Remove it."
  weight   = 2.0
}
principle preachy {
  critique = \"\"\"
      Point out lecturing.\"\"\"
  revision = "Stop it."
}

question better { text = "Which reply is better?" }
model m {
  source = "embedded:smollm2-135m-instruct"
}
dataset d { path = "data/d.jsonl" }
template respond_prompt(prompt) \"\"\"
  Q: {{ prompt }}\"\"\"


stage critique_revision { model = m  prompts = d }
stage sft {
  from = critique_revision  # comment
}
stage feedback { policy = sft  judge = m  prompts = d }
"""


def plan_of(compile_text: Compile, text: str) -> Plan:
    result = compile_text(text)
    assert result.plan is not None, [d.message for d in result.diagnostics]
    return result.plan


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_round_trip_keeps_json_and_hash(path: Path) -> None:
    plan = compile_path(path).plan
    assert plan is not None
    text = plan.to_json()
    again = Plan.from_json(text)
    assert again.hash == plan.hash == again.compute_hash()
    assert again.to_json() == text
    assert again == plan


def test_hash_ignores_layout_and_comments(compile_text: Compile) -> None:
    assert plan_of(compile_text, BASE).hash == plan_of(compile_text, REFORMATTED).hash


def test_hash_ignores_where_the_file_lives(project: Path) -> None:
    (project / "a").mkdir()
    (project / "a" / "deep").mkdir()
    (project / "data").mkdir()
    (project / "data" / "d.jsonl").write_text('{"prompt": "p"}\n', "utf-8")
    first = compile_path(project / "main.const", text=BASE, root=project).plan
    moved = compile_path(project / "a" / "deep" / "other.const",
                         text=BASE.replace('"data/d.jsonl"', '"../../data/d.jsonl"'),
                         root=project).plan
    assert first is not None and moved is not None
    assert first.hash == moved.hash
    assert first.datasets[0].path == moved.datasets[0].path == "data/d.jsonl"


@pytest.mark.parametrize(("old", "new"), [
    ('"Point out harm."', '"Point out any harm."'),           # a principle's text
    ("weight = 2 }", "weight = 3 }"),                          # a weight
    ('"Which reply is better?"', '"Which reply is kinder?"'),  # a question
    ('"Q: {{ prompt }}"', '"Q:  {{ prompt }}"'),               # a template
    ("judge = m  prompts", "judge = m  swap_positions = false  prompts"),  # a stage setting
    ('version = "1.0.0"', 'version = "1.0.1"'),              # the constitution's version
    ('"data/d.jsonl"', '"data/e.jsonl"'),                     # a dataset path
])
def test_hash_changes_with_what_the_plan_does(compile_text: Compile, old: str, new: str) -> None:
    assert old in BASE
    assert plan_of(compile_text, BASE).hash != plan_of(compile_text, BASE.replace(old, new)).hash


def test_hash_is_over_the_content_without_the_hash(compile_text: Compile) -> None:
    plan = plan_of(compile_text, BASE)
    assert plan.hash.startswith("sha256:") and len(plan.hash) == 7 + 64
    assert "hash" not in plan.content()
    assert plan.model_copy(update={"hash": "sha256:0"}).compute_hash() == plan.hash


def test_json_has_a_stable_key_order(compile_text: Compile) -> None:
    data = json.loads(plan_of(compile_text, BASE).to_json())
    assert list(data) == ["format_version", "constitution", "sources", "principles", "checks",
                          "questions",
                          "examples", "models", "datasets", "stages", "programs", "hash"]
    assert list(data["stages"][0]) == ["name", "kind", "depends_on", "location", "settings"]


@pytest.mark.parametrize("path", [
    ("surprise",),
    ("constitution", "surprise"),
    ("principles", 0, "surprise"),
    ("stages", 1, "settings", "surprise"),
    ("programs", 0, "steps", 0, "surprise"),
    ("sources", 0, "surprise"),
])
def test_unknown_keys_are_rejected(compile_text: Compile, path: tuple[object, ...]) -> None:
    data = json.loads(plan_of(compile_text, BASE).to_json())
    node = data
    for key in path[:-1]:
        node = node[key]  # type: ignore[index]
    node[path[-1]] = 1  # type: ignore[index]
    with pytest.raises(ValidationError, match="surprise"):
        Plan.model_validate(data)


def test_settings_must_match_the_stage_kind(compile_text: Compile) -> None:
    data = json.loads(plan_of(compile_text, BASE).to_json())
    data["stages"][1]["kind"] = "ppo"  # an sft stage's settings under another kind
    with pytest.raises(ValidationError):
        Plan.model_validate(data)


def test_plan_values_are_range_checked_too(compile_text: Compile) -> None:
    data = json.loads(plan_of(compile_text, BASE).to_json())
    data["principles"][0]["weight"] = -1
    with pytest.raises(ValidationError):
        Plan.model_validate(data)


STAGES = """constlang 1
constitution "order" {}
principle p { critique = "c" revision = "r" }
question q { text = "?" }
model m { source = "embedded:smollm2-135m-instruct" }
dataset d { path = "d.jsonl" }
"""


def stage_names(compile_text: Compile, stages: str) -> list[str]:
    return [s.name for s in plan_of(compile_text, STAGES + stages).stages]


def test_stage_order_keeps_a_declaration_order_that_already_works(compile_text: Compile) -> None:
    stages = """
stage critique_revision { model = m  prompts = d }
stage sft { from = critique_revision }
stage feedback { policy = sft  judge = m  prompts = d }
stage reward_model { from = feedback }
stage ppo { policy = sft  reward = reward_model  prompts = d }
stage dpo { from = feedback  policy = sft }
"""
    assert stage_names(compile_text, stages) == ["critique_revision", "sft", "feedback",
                                                 "reward_model", "ppo", "dpo"]


def test_stage_order_puts_dependencies_first(compile_text: Compile) -> None:
    stages = """
stage ppo { policy = sft  reward = reward_model  prompts = d }
stage reward_model { from = feedback }
stage feedback { policy = sft  judge = m  prompts = d }
stage sft { from = critique_revision }
stage critique_revision { model = m  prompts = d }
"""
    assert stage_names(compile_text, stages) == ["critique_revision", "sft", "feedback",
                                                 "reward_model", "ppo"]


def test_independent_stages_keep_declaration_order(compile_text: Compile) -> None:
    stages = """
stage zeta  { kind = critique_revision  model = m  prompts = d }
stage alpha { kind = critique_revision  model = m  prompts = d }
stage mid   { kind = feedback  policy = m  judge = m  prompts = d }
stage tune_alpha { kind = sft  from = alpha }
stage tune_zeta  { kind = sft  from = zeta }
"""
    assert stage_names(compile_text, stages) == ["zeta", "alpha", "mid", "tune_alpha",
                                                 "tune_zeta"]


def test_every_stage_runs_after_what_it_depends_on(compile_text: Compile) -> None:
    stages = """
stage direct { kind = dpo  from = prefs  policy = tuned }
stage prefs { kind = feedback  policy = tuned  judge = m  prompts = d }
stage rm { kind = reward_model  from = prefs }
stage rl { kind = ppo  policy = direct  reward = rm  prompts = d }
stage tuned { kind = sft  from = self }
stage self { kind = critique_revision  model = m  prompts = d }
"""
    plan = plan_of(compile_text, STAGES + stages)
    seen: set[str] = set()
    for stage in plan.stages:
        assert set(stage.depends_on) <= seen, stage.name
        seen.add(stage.name)
    assert {s.name: s.depends_on for s in plan.stages}["rl"] == ["direct", "rm"]


def test_sources_list_every_loaded_file_with_its_sha256(project: Path) -> None:
    files = {
        "main.const": 'constlang 1\nimport "lib/a.const"\nimport "std/helpful.const"\n',
        "lib/a.const": 'constlang 1\r\nimport "b.const"\r\n',  # CRLF: hashed as read, LF
        "lib/b.const": "constlang 1\n# b\n",
    }
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_bytes(text.encode("utf-8"))
    plan = compile_path(project / "main.const").plan
    assert plan is not None
    std = Path(__file__).resolve().parents[1] / "constlang" / "std"
    expected = {name: text.replace("\r\n", "\n") for name, text in files.items()}
    expected["std/helpful.const"] = (std / "helpful.const").read_text("utf-8")
    expected["std/prelude.const"] = (std / "prelude.const").read_text("utf-8")
    assert [(s.path, s.sha256) for s in plan.sources] == [
        (name, hashlib.sha256(text.encode("utf-8")).hexdigest())
        for name, text in sorted(expected.items())]


def test_lookup_helpers(compile_text: Compile) -> None:
    plan = plan_of(compile_text, BASE)
    assert plan.stage("sft").settings.from_ == "critique_revision"
    assert plan.model("m").source == "embedded:smollm2-135m-instruct"
    assert plan.dataset("d").path == "data/d.jsonl"
    assert [s.name for s in plan.program("feedback").steps] == ["respond", "compare"]
    with pytest.raises(KeyError):
        plan.stage("nope")


def test_base_model_follows_stages_and_the_default_of_a_model_left_out(compile_text: Compile,
                                                                        ) -> None:
    plan = plan_of(compile_text, BASE)
    assert plan.base_model("feedback") is None  # a feedback stage trains no weights
    assert plan.base_model("sft").id == "m"
    data = json.loads(plan.to_json())
    for stage in data["stages"]:
        if stage["kind"] == "sft":
            stage["settings"]["model"] = None  # a plan written by hand may leave it out
    by_hand = Plan.model_validate(data)
    assert by_hand.base_model("sft").id == "m"  # the critique_revision stage's model


MERGED = BASE + """stage revision_pairs { from = critique_revision }
stage reward_model { from = [feedback, revision_pairs] }
"""


def test_a_reward_model_can_merge_several_preference_sources(compile_text: Compile) -> None:
    plan = plan_of(compile_text, MERGED)
    rm = plan.stage("reward_model")
    assert rm.settings.from_ == ["feedback", "revision_pairs"]
    assert rm.depends_on == ["feedback", "revision_pairs"]
    assert rm.settings.model == "m"  # the first source's judge
    names = [s.name for s in plan.stages]
    assert names.index("reward_model") > max(names.index("feedback"),
                                              names.index("revision_pairs"))
    single = plan_of(compile_text, BASE + "stage reward_model { from = feedback }\n")
    assert single.stage("reward_model").settings.from_ == "feedback"  # as written


@pytest.mark.parametrize(("value", "code", "message"), [
    ("[]", "E105", "`from` must name at least one stage"),
    ("[feedback, sft]", "E108", "`from` of stage `reward_model` must be a feedback or "
                                "revision_pairs or best_of_n stage, but `sft` is a sft stage"),
    ("[feedback, nowhere]", "E101", "unknown stage `nowhere`"),
])
def test_a_list_of_sources_is_checked_item_by_item(compile_text: Compile, value: str,
                                                   code: str, message: str) -> None:
    result = compile_text(BASE + f"stage reward_model {{ from = {value} }}\n")
    assert result.plan is None
    assert [(d.code, d.message) for d in result.diagnostics] == [(code, message)]


@pytest.mark.parametrize(("stage", "message"), [
    ("stage critique_revision { model = m  prompts = d  judge = m }",
     "`judge` of stage `critique_revision` needs `judge_question`"),
    ("stage critique_revision { model = m  prompts = d }\nstage sft { from = critique_revision }\n"
     "stage feedback { policy = sft  judge = m  prompts = d  min_judge_accuracy = 0.7 }",
     "`min_judge_accuracy` of stage `feedback` needs `judge_check`"),
    ("stage ppo { policy = m  prompts = d  value_model = policy_head }",
     "stage `ppo` needs `reward` or `checks`"),
    ("stage grpo { policy = m  prompts = d }",
     "`reward_source = reward_model` (the default) of stage `grpo` needs `reward` or `checks`"),
])
def test_a_setting_without_the_setting_it_needs_is_e113(compile_text: Compile, stage: str,
                                                        message: str) -> None:
    head = BASE[:BASE.index("stage critique_revision")]
    result = compile_text(head + stage + "\n")
    assert result.plan is None
    assert [(d.code, d.message) for d in result.diagnostics] == [("E113", message)]
    fixed = stage.replace("judge = m }", "judge = m  judge_question = better }")
    if fixed != stage:  # with the companion setting the checker is satisfied
        assert not [d for d in compile_text(head + fixed + "\n").diagnostics if d.code == "E113"]



def test_checks_stand_in_for_the_reward_model_of_an_rl_stage(compile_text: Compile) -> None:
    head = BASE[:BASE.index("stage critique_revision")] + \
        "check short { checker = length  max = 20 }\n"
    stages = ("stage ppo { policy = m  prompts = d  checks = short  value_model = policy_head }\n"
              "stage grpo { policy = m  prompts = d  checks = [short]  reward_weight = 0.5 }\n")
    result = compile_text(head + stages)
    assert result.plan is not None, result.diagnostics
    assert result.plan.stage("ppo").settings.checks == ["short"]
    assert result.plan.stage("grpo").settings.reward_weight == 0.5
    # a check the plan lacks is its own error (E101), not a missing reward as well
    wrong = compile_text(head + stages.replace("checks = short", "checks = shrot"))
    assert [d.code for d in wrong.diagnostics] == ["E101"]
