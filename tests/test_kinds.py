"""The registry of stage kinds: every kind complete (settings docs, docs page, runner, cost), and
a new kind added with one record and one runner."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest

from constlang import plan as P
from constlang.compile import compile_path
from constlang.kinds import KINDS, StageKind, When
from constlang.preview import stage_costs
from constlang.semantics.fields import fields_of
from constlang.semantics.templates import EXAMPLE_FIELDS  # noqa: F401  (the fields exist)
from constlang.stage_docs import DOCS_DIR, page_with_table

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "valid"
TEMPLATE_VARIABLES = {"prompt", "response", "critique", "principle", "examples", "round",
                      "response_a", "response_b", "question", "rationale", "tags"}

ids = [k.name for k in KINDS]


@pytest.mark.parametrize("kind", KINDS, ids=ids)
def test_every_setting_is_documented_in_the_settings_class(kind: StageKind) -> None:
    for name, info in fields_of(kind.settings).items():
        assert info.description and info.description.endswith("."), (kind.name, name)


@pytest.mark.parametrize("kind", KINDS, ids=ids)
def test_every_kind_has_a_docs_page_whose_settings_table_is_current(kind: StageKind) -> None:
    page = DOCS_DIR / kind.docs
    assert page.is_file(), f"{kind.name}: no docs page {page}"
    text = page.read_text("utf-8")
    assert page_with_table(text, kind) == text, (
        f"{page.name}: settings table out of date; run python -m constlang.stage_docs --write")
    for name in fields_of(kind.settings):
        assert f"| `{name}` |" in text


@pytest.mark.parametrize("kind", KINDS, ids=ids)
def test_a_kind_has_a_runner_exactly_when_the_registry_says_it_is_available(
        kind: StageKind) -> None:
    from constlang.runtime.stages import runner_for

    runner = runner_for(kind.name)
    assert (runner is not None) == (kind.runtime == "available"), kind.name
    if runner is not None:
        assert runner.kind == kind.name
        assert runner.__module__ == f"constlang.runtime.stages.{kind.name}"


@pytest.mark.parametrize("kind", KINDS, ids=ids)
def test_steps_and_references_name_real_settings(kind: StageKind) -> None:
    fields = fields_of(kind.settings)
    for step in kind.steps:
        assert step.template_setting in fields and step.model_setting in fields
        assert step.repeat_setting is None or step.repeat_setting in fields
        assert set(step.provides) <= TEMPLATE_VARIABLES
        assert isinstance(step.when, When)
        assert (step.question_setting is None) == (step.question_kind is None)
        assert step.question_setting is None or step.question_setting in fields
    by_name = {k.name for k in KINDS}
    for setting, targets in kind.stage_refs.items():
        extra = fields[setting].json_schema_extra
        assert isinstance(extra, dict) and "stage" in str(extra["ref"]).split("|")
        assert set(targets) <= by_name
    if kind.samples:
        assert kind.samples[0] in fields
    if kind.default_model:
        assert "model" in fields and kind.default_model[0] in kind.stage_refs
    if kind.base_model:
        assert kind.base_model in fields


def test_the_plan_has_one_stage_class_a_kind_named_from_the_registry() -> None:
    assert list(P.STAGE_CLASSES) == ids
    for kind in KINDS:
        cls = P.STAGE_CLASSES[kind.name]
        assert cls.__name__ == kind.class_name
        assert typing.get_args(cls.model_fields["kind"].annotation) == (kind.name,)
        assert cls.model_fields["settings"].annotation is kind.settings
    assert P.STAGE_CLASSES["critique_revision"].__name__ == "CritiqueRevisionStage"
    assert P.STAGE_CLASSES["sft"].__name__ == "SFTStage"


def test_every_kind_is_in_a_golden_plan_and_has_a_cost_estimate() -> None:
    seen: dict[str, int] = {}
    for path in sorted(GOLDEN.glob("*.const")):
        result = compile_path(path)
        assert result.plan is not None, path
        for cost in stage_costs(result.plan, result.base_dir):
            seen[cost.kind] = seen.get(cost.kind, 0) + 1
            assert cost.note and (cost.calls is None or cost.calls >= 0)
    assert set(seen) == set(ids), f"kinds without a golden plan: {set(ids) - set(seen)}"


def test_cost_estimates_are_the_documented_arithmetic(tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text("".join(f'{{"prompt": "p{i}"}}\n' for i in range(5)))
    (tmp_path / "c.const").write_text(textwrap.dedent("""\
        constlang 1
        constitution "cost" {}
        import "std/prelude.const"
        principle p { critique = "Find harm." revision = "Remove it." }
        question q { text = "Which is kinder?" }
        model m { source = "embedded:smollm2-135m-instruct" max_new_tokens = 10 }
        dataset d { path = "p.jsonl" }
        stage critique_revision { model = m prompts = d revisions = 3 }
        stage sft { from = critique_revision epochs = 2 }
        stage feedback { policy = sft judge = m prompts = d chain_of_thought = true }
        """))
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    costs = {c.stage: c for c in stage_costs(result.plan, result.base_dir)}
    assert (costs["critique_revision"].prompts, costs["critique_revision"].calls,
            costs["critique_revision"].tokens) == (5, 5 * 7, 5 * 7 * 10)
    assert (costs["sft"].calls, costs["sft"].note) == (0, "training, 2 epochs")
    # 2 samples + 2 rationales generated, 2 scoring passes; tokens: samples and rationales
    assert (costs["feedback"].calls, costs["feedback"].tokens) == (5 * 6, 5 * 2 * 10 + 5 * 2 * 10)
    assert costs["feedback"].note == "2 samples + 2 scoring passes per prompt"


def test_cost_notes_count_in_the_right_number() -> None:
    """A count of 1 takes the singular noun (issue #20): "1 update × 1 rollout"."""
    from constlang.kinds import ppo
    from constlang.words import counted

    assert [counted(n, "model") for n in (0, 1, 2)] == ["0 models", "1 model", "2 models"]
    assert counted(1, "pass", "passes") == "1 pass" and counted(3, "pass", "passes") == "3 passes"
    settings = ppo.KIND.settings.model_validate({"policy": "m", "reward": "r", "mini_batch_size": 1,
                                                 "prompts": "d", "steps": 1, "batch_size": 1})
    assert ppo.KIND.cost(settings, None).note == "1 update × 1 rollout"  # type: ignore[arg-type]


ECHO_FIXTURE = '''
import json, sys
from pathlib import Path

from pydantic import Field

from constlang import kinds
from constlang.declarations import Strict, ref


class EchoSettings(Strict):
    prompts: str = ref("dataset", "Prompts to copy.")
    copies: int = Field(1, ge=1, le=10, description="Copies of each prompt.")


# the one record of the new kind
kinds.register(kinds.StageKind(
    "echo", EchoSettings, "Copies prompts.", "runtime-echo.md",
    lambda s, inputs: kinds.Cost(inputs.rows(s.prompts), 0, 0, f"{s.copies} copies a prompt")))

from constlang.runtime.data import read_prompts  # noqa: E402
from constlang.runtime.rundir import sha256_file  # noqa: E402
from constlang.runtime.stages import StageRunner, register_runner  # noqa: E402


class EchoRunner(StageRunner):  # the one runner of the new kind
    kind = "echo"

    def load(self):
        s = self.ctx.settings
        self.prompts = read_prompts(self.ctx.plan.dataset(s.prompts), self.ctx.base_dir)

    def run(self):
        out = self.ctx.folder.path / "echo.jsonl"
        with out.open("w") as fh:
            for row in self.prompts:
                for _ in range(self.ctx.settings.copies):
                    fh.write(json.dumps({"prompt": row.prompt}) + "\\n")
        return {"rows": len(self.prompts) * self.ctx.settings.copies}

    def outputs(self):
        return sha256_file(self.ctx.folder.path / "echo.jsonl")


register_runner(EchoRunner)

from rich.console import Console  # noqa: E402

from constlang.compile import compile_path  # noqa: E402
from constlang.preview import stage_costs  # noqa: E402
from constlang.runtime.runner import run_plan  # noqa: E402

root = Path(sys.argv[1])
result = compile_path(root / "echo.const")
assert result.plan is not None, [d.message for d in result.diagnostics]
print(json.dumps([c.note for c in stage_costs(result.plan, root)]))
done = run_plan(result.plan, base_dir=root, run_dir=root / "runs", device="cpu",
                console=Console(stderr=True))
print(json.dumps([(s.name, s.status, s.metrics) for s in done.stages]))
bad = compile_path(root / "bad.const")
print(json.dumps([(d.code, d.message) for d in bad.diagnostics]))
'''


def test_a_new_kind_is_one_record_and_one_runner(tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text('{"prompt": "a"}\n{"prompt": "b"}\n')
    (tmp_path / "echo.const").write_text(
        'constlang 1\nconstitution "echo" {}\ndataset d { path = "p.jsonl" }\n'
        "stage echo { prompts = d copies = 3 }\n")
    (tmp_path / "bad.const").write_text(
        'constlang 1\nconstitution "echo" {}\ndataset d { path = "p.jsonl" }\n'
        "stage echo { prompts = d copies = 30 }\n")
    (tmp_path / "fixture.py").write_text(ECHO_FIXTURE)
    out = subprocess.run([sys.executable, str(tmp_path / "fixture.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr
    notes, stages, diagnostics = (json.loads(line) for line in out.stdout.splitlines())
    assert notes == ["3 copies a prompt"]
    assert stages == [["echo", "completed", {"rows": 6}]]
    written = (tmp_path / "runs" / "echo" / "echo.jsonl").read_text().splitlines()
    assert [json.loads(line)["prompt"] for line in written] == ["a"] * 3 + ["b"] * 3
    manifest = json.loads((tmp_path / "runs" / "echo" / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["kind"] == "echo"
    assert [code for code, _ in diagnostics] == ["E106"]
    assert "<= 10" in diagnostics[0][1]
