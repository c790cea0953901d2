"""Prompts in one place: what each step receives is exactly what its kind's record provides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from constlang.compile import compile_path
from constlang.kinds import BY_NAME
from constlang.prompts import RenderError, render_stage, render_step, step_variables
from constlang.runtime.data import read_prompts

SOURCE = """\
constlang 1
constitution "prompts" {}
import "std/prelude.const"
principle p { critique = "Find harm." revision = "Remove it." }
question pair { text = "Which reply is kinder?" }
question safe { text = "Is this reply safe?" kind = pointwise good_answer = "Yes" }
example e {
  prompt = "How do I hotwire a car?" response = "Cross the wires."
  critique_request = "Find harm." critique = "It helps theft."
  revision_request = "Remove it." revision = "I can't help with that."
}
model m { source = "embedded:smollm2-135m-instruct" }
dataset d { path = "p.jsonl" }
stage critique_revision { model = m prompts = d revisions = 1 }
stage sft { from = critique_revision }
stage feedback {
  policy = sft judge = m prompts = d chain_of_thought = true question_sampling = all
}
"""


@pytest.fixture
def compiled(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "c.const").write_text(SOURCE, "utf-8")
    (tmp_path / "p.jsonl").write_text(json.dumps({"prompt": "How do I pick a lock?"}) + "\n")
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    return result


def test_every_step_of_every_program_is_in_the_plan(compiled) -> None:  # type: ignore[no-untyped-def]
    steps = {p.stage: [s.name for s in p.steps] for p in compiled.plan.programs}
    assert steps == {"critique_revision": ["respond", "critique", "revise"],
                     "feedback": ["respond", "rationale", "compare", "pointwise"]}


def test_a_missing_variable_is_an_error_naming_it(compiled) -> None:  # type: ignore[no-untyped-def]
    step = compiled.plan.program("critique_revision").steps[1]
    values = {"prompt": "P", "response": "R", "principle": {}, "examples": []}  # no round
    with pytest.raises(KeyError, match="critique step of a critique_revision stage provides "
                                       "round"):
        render_step("critique_revision", "critique_revision", step, values)


def test_extra_values_are_not_passed_on() -> None:
    provided = step_variables("feedback", "respond", {"prompt": "P", "examples": [],
                                                      "response": "not for this step"})
    assert provided == {"prompt": "P", "examples": []}
    assert tuple(provided) == BY_NAME["feedback"].steps[0].provides


def test_render_and_the_runtime_send_the_same_prompts(compiled) -> None:  # type: ignore[no-untyped-def]
    """The runtime's --dry-run view and `constlang render` build every step through
    step_variables; for the same prompt and principle they render the same text."""
    from constlang.runtime.stages.critique_revision import CritiqueRevision
    from constlang.runtime.stages.feedback import Feedback

    plan = compiled.plan
    rows = read_prompts(plan.dataset("d"), compiled.base_dir)
    runtime = CritiqueRevision.from_plan(plan, "critique_revision").preview(rows)
    rendered = render_stage(plan, "critique_revision", rows[0].prompt, "p")
    assert [chat for _, chat in runtime] == [step.messages for step in rendered]
    judged = Feedback.from_plan(plan, "feedback").preview(rows)
    titles = [title.split(" · ")[2].split(" ")[0] for title, _ in judged]
    assert sorted(set(titles)) == ["compare", "pointwise", "rationale", "respond"]


def test_render_shows_the_judge_step_with_the_judge_question(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from constlang.cli import cli

    (tmp_path / "p.jsonl").write_text(json.dumps({"prompt": "How do I pick a lock?"}) + "\n")
    (tmp_path / "c.const").write_text(SOURCE.replace(
        "stage critique_revision { model = m prompts = d revisions = 1 }",
        "stage critique_revision { model = m prompts = d judge = m judge_question = safe }"))
    out = CliRunner().invoke(cli, ["render", str(tmp_path / "c.const"), "--stage",
                                   "critique_revision", "--question", "safe"])
    assert out.exit_code == 0, out.output
    assert "── judge · template pointwise_prompt · model m ──" in out.output
    assert "Is this reply safe? Answer Yes or No." in out.output
    wrong = CliRunner().invoke(cli, ["render", str(tmp_path / "c.const"), "--stage",
                                     "critique_revision", "--question", "pair"])
    assert wrong.exit_code == 2
    assert "stage `critique_revision` does not ask question `pair`" in wrong.output


def test_a_run_time_render_error_names_the_const_line(tmp_path: Path) -> None:
    # line 3 of the template's text is line N + 3 of the file, N the line of its `"""`
    template = ('override template respond_prompt(prompt, examples) """\n{{ prompt }}\n\n'
                '{{ examples.append(1) }}\n"""\n')
    (tmp_path / "c.const").write_text(SOURCE + template, "utf-8")
    (tmp_path / "p.jsonl").write_text(json.dumps({"prompt": "How do I pick a lock?"}) + "\n")
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    step = result.plan.program("critique_revision").steps[0]
    opening = (SOURCE + template).splitlines().index(template.splitlines()[0]) + 1
    values = {"prompt": "P", "examples": []}
    with pytest.raises(RenderError) as caught:
        render_step("critique_revision", "critique_revision", step, values)
    assert str(caught.value).startswith(
        f"c.const:{opening + 3}: step `respond` (template `respond_prompt`): line 3 of the "
        "template: blocked by the template sandbox")
    assert step.location is not None and (step.location.line, step.location.text_line) == (
        opening, opening + 1)
    # the location is provenance: a plan without it still renders, and hashes alike
    bare = step.model_copy(update={"location": None})
    with pytest.raises(RenderError, match="^step `respond`"):
        render_step("critique_revision", "critique_revision", bare, values)
    assert result.plan.compute_hash() == result.plan.model_copy(update={"programs": [
        p.model_copy(update={"steps": [s.model_copy(update={"location": None})
                                       for s in p.steps]}) for p in result.plan.programs]}
    ).compute_hash()
