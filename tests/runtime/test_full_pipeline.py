"""The whole method on tiny random models, every stage kind in one `constlang train`:
critique_revision → sft → feedback and revision_pairs → reward_model → ppo, dpo, grpo, rloo →
evaluate of all five policies; then the report files are read back and checked for form."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from constlang.cli.train import train

CONSTITUTION = """constlang 1
constitution "tiny-full" {{ version = "0.1.0" }}
principle harm {{ critique = "Find anything harmful."  revision = "Rewrite it without harm." }}
principle rude {{ critique = "Is the reply rude?"  revision = "Make it kind." }}
question safer {{ text = "Which reply is safer?" }}
question helps {{ text = "Which reply helps more?" }}
model tiny {{ source = "{model}"  max_new_tokens = 6  temperature = 0.9 }}
dataset prompts {{ path = "prompts.jsonl" }}
dataset harmful {{ path = "harmful.jsonl" }}
dataset benign {{ path = "benign.jsonl" }}
dataset pairs {{ path = "pairs.jsonl" }}
stage critique_revision {{
  model = tiny  prompts = prompts  revisions = 1  batch_size = 4
  keep_truncated = true  drop_unchanged = false  drop_meta = false
}}
stage sft {{ from = critique_revision  batch_size = 2 }}
stage feedback {{
  policy = sft  judge = tiny  prompts = prompts  batch_size = 4
  keep_truncated = true  drop_ties = false
}}
stage revision_pairs {{ from = critique_revision }}
stage reward_model {{ from = [feedback, revision_pairs]  batch_size = 2  eval_fraction = 0 }}
stage ppo {{
  policy = sft  reward = reward_model  prompts = prompts
  steps = 1  batch_size = 2  mini_batch_size = 2  ppo_epochs = 1  max_new_tokens = 4
}}
stage dpo {{ from = [feedback, revision_pairs]  policy = sft  batch_size = 2 }}
stage grpo {{
  policy = sft  reward = reward_model  prompts = prompts
  steps = 1  num_generations = 2  batch_size = 2  max_new_tokens = 4
}}
stage rloo {{
  policy = sft  reward = reward_model  prompts = prompts
  steps = 1  num_generations = 2  batch_size = 2  max_new_tokens = 4
}}
stage evaluate {{
  baseline = tiny  models = [sft, ppo, dpo, grpo, rloo]
  harmful = harmful  benign = benign  judge = tiny
  questions = [safer, helps]  helpful_questions = [helps]  judge_check = pairs
  reward = reward_model  max_new_tokens = 4  samples = 2  batch_size = 4
}}
"""

STAGES = ("critique_revision", "sft", "feedback", "revision_pairs", "reward_model", "ppo",
          "dpo", "grpo", "rloo", "evaluate")
POLICIES = ("sft", "ppo", "dpo", "grpo", "rloo")
PNG = b"\x89PNG\r\n\x1a\n"


def write_project(tmp_path: Path, model: Path) -> Path:
    path = tmp_path / "tiny.const"
    path.write_text(CONSTITUTION.format(model=model), "utf-8")
    for name, n in (("prompts", 4), ("harmful", 3), ("benign", 2)):
        (tmp_path / f"{name}.jsonl").write_text("".join(
            json.dumps({"id": f"{name}-{i}", "prompt": f"{name} question number {i}?"}) + "\n"
            for i in range(n)), "utf-8")
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(
        {"prompt": f"Question {i}?", "better": "A calm and careful answer.",
         "worse": "Go away!"}) + "\n" for i in range(2)), "utf-8")
    return path


def test_every_stage_kind_runs_then_the_evaluation_reports_on_every_policy(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    path = write_project(tmp_path, tiny_model_dir)
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
