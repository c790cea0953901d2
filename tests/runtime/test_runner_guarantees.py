"""What the runner promises whatever the kind: the inputs hash covers what a runner adds, and a
stage's folder is cleared only once its runner has loaded the inputs."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console  # noqa: E402

from constlang.compile import compile_path  # noqa: E402
from constlang.runtime.inputs import inputs_hash  # noqa: E402
from constlang.runtime.rundir import Manifest, RunDir, now_iso  # noqa: E402
from constlang.runtime.runner import RunError, run_plan  # noqa: E402
from constlang.runtime.stages.critique_revision import CritiqueRevisionDir

from .helpers import complete_by_hand

ROOT = Path(__file__).resolve().parents[2]


def test_the_inputs_hash_covers_what_the_runner_adds_and_nothing_else() -> None:
    result = compile_path(ROOT / "constitutions" / "minimal.const")
    assert result.plan is not None
    stage = result.plan.stage("critique_revision")

    def digest(extra: dict[str, object] | None) -> str:
        return inputs_hash(result.plan, stage, result.base_dir, {}, extra)

    assert digest({"policy_generation": 1}) != digest({"policy_generation": 2})
    assert digest(None) == digest({})


def test_an_sft_stage_that_cannot_load_keeps_the_model_it_trained_before(tmp_path: Path) -> None:
    shutil.copy(ROOT / "constitutions" / "minimal.const", tmp_path)
    shutil.copytree(ROOT / "constitutions" / "data", tmp_path / "data")
    result = compile_path(tmp_path / "minimal.const")
    assert result.plan is not None
    run = RunDir(tmp_path / "runs")
    # the upstream stage completed, but it kept no training rows
    upstream = CritiqueRevisionDir.of(run.stage("critique_revision"))
    upstream.path.mkdir(parents=True)
    upstream.rows.write_text("")
    upstream.sft_data.write_text("")
    complete_by_hand(run, "critique_revision", "critique_revision")
    sft = run.stage("sft")
    sft.model.mkdir(parents=True)
    (sft.model / "weights").write_text("trained earlier")
    sft.write_manifest(Manifest(stage="sft", kind="sft", status="completed",
                                inputs_hash="sha256:other inputs", plan_hash="sha256:b",
                                outputs_hash="sha256:d", started_at=now_iso()))

    with pytest.raises(RunError, match="no training data"):
        run_plan(result.plan, base_dir=result.base_dir, run_dir=run.path, stages=["sft"],
                 device="cpu", console=Console(file=io.StringIO()))

    assert (sft.model / "weights").read_text() == "trained earlier"
    manifest = sft.read_manifest()
    assert manifest is not None and manifest.status == "completed"


def test_ctrl_c_marks_the_stage_interrupted_and_a_rerun_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from constlang.runtime.stages.critique_revision import CritiqueRevisionRunner

    shutil.copy(ROOT / "constitutions" / "minimal.const", tmp_path)
    shutil.copytree(ROOT / "constitutions" / "data", tmp_path / "data")
    result = compile_path(tmp_path / "minimal.const")
    assert result.plan is not None
    monkeypatch.setattr(CritiqueRevisionRunner, "load", lambda self: None)

    def interrupted(self: CritiqueRevisionRunner) -> dict[str, object]:
        (self.ctx.folder.path / "saved-work").write_text("kept")
        raise KeyboardInterrupt

    monkeypatch.setattr(CritiqueRevisionRunner, "run", interrupted)
    run = RunDir(tmp_path / "runs")
    with pytest.raises(KeyboardInterrupt):
        run_plan(result.plan, base_dir=result.base_dir, run_dir=run.path,
                 stages=["critique_revision"], device="cpu", console=Console(file=io.StringIO()))
    manifest = run.stage("critique_revision").read_manifest()
    assert manifest is not None and manifest.status == "interrupted"
    assert manifest.finished_at is not None

    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        run_plan(result.plan, base_dir=result.base_dir, run_dir=run.path,
                 stages=["critique_revision"], device="cpu",
                 console=Console(file=out, width=200))
    assert "the last run was interrupted; continuing from what it saved" in out.getvalue()
    assert (run.stage("critique_revision").path / "saved-work").read_text() == "kept"
