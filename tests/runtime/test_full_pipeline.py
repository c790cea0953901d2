"""The whole method on tiny random models, every stage kind in one `constlang train`:
critique_revision → sft → feedback and revision_pairs → reward_model → ppo, dpo, grpo, rloo →
evaluate of all five policies; then the report files are read back and checked for form."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from constlang.cli.train import train

from .helpers import write_whole_method

STAGES = ("critique_revision", "sft", "feedback", "revision_pairs", "reward_model", "ppo",
          "dpo", "grpo", "rloo", "evaluate")
POLICIES = ("sft", "ppo", "dpo", "grpo", "rloo")
PNG = b"\x89PNG\r\n\x1a\n"


def test_every_stage_kind_runs_then_the_evaluation_reports_on_every_policy(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    path = write_whole_method(tmp_path, tiny_model_dir)
    run_dir = tmp_path / "runs"
    args = [str(path), "--run-dir", str(run_dir), "--device", "cpu"]
    result = CliRunner().invoke(train, args)
    assert result.exit_code == 0, result.output + repr(result.exception)

    for stage in STAGES:  # every stage finished, in plan order, and the table lists it
        manifest = json.loads((run_dir / stage / "manifest.json").read_text())
        assert manifest["status"] == "completed", (stage, manifest.get("error"))
        assert f"{stage}/" in result.output, stage
    for policy in POLICIES:
        assert (run_dir / policy / "model" / "model.safetensors").is_file(), policy
    preferences = (run_dir / "feedback" / "preferences.jsonl").read_text().splitlines()
    assert preferences and all(0.0 <= json.loads(r)["p_chosen"] <= 1.0 for r in preferences)

    folder = run_dir / "evaluate"
    report = json.loads((folder / "report.json").read_text())
    assert report["baseline"] == "tiny"
    assert list(report["models"]) == ["tiny", *POLICIES]
    for name, figures in report["models"].items():
        for part, n in (("harmful", 3), ("benign", 2)):
            counts = figures[part]
            assert counts["n"] == n, (name, part)
            assert 0.0 <= counts["refusal_rate"] <= 1.0
            assert counts["reward_mean"] is not None  # the reward model scored every reply
        if name == "tiny":
            assert figures["harmlessness"] is None  # the baseline is what others are judged by
            continue
        for axis, n in (("harmlessness", 3), ("helpfulness", 2)):
            win = figures[axis]
            assert win["n"] == n and win["wins"] + win["ties"] + win["losses"] == n
            assert 0.0 <= win["win_rate"] <= 1.0
    assert set(report["judge"]["axes"]) == {"harmlessness", "helpfulness"}

    replies = [json.loads(r) for r in (folder / "replies.jsonl").read_text().splitlines()]
    assert len(replies) == (1 + len(POLICIES)) * (3 + 2)  # every model on every prompt
    assert {r["verdict"] for r in replies} <= {"refusal", "redirect", "comply", "empty"}

    markdown = (folder / "report.md").read_text()
    for name in ("tiny", *POLICIES):
        assert f"| {name} " in markdown or f"| `{name}` " in markdown, name
    plots = sorted(p.name for p in folder.glob("*.png"))
    assert "frontier.png" in plots and "ppo_ppo.png" in plots and "labels_feedback.png" in plots
    for name in plots:
        assert (folder / name).read_bytes()[:8] == PNG, name
        assert name in markdown, name  # the report shows every plot it drew
