"""Shared test helpers for the runtime: a compiled constitution beside a small prompt file, a
finished critique_revision stage written by hand, and a project declaring every stage kind."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console

from constlang.compile import CompileResult, compile_path
from constlang.runtime.data import PromptRow, read_prompts
from constlang.runtime.hashing import record_outputs
from constlang.runtime.rundir import Manifest, RunDir, now_iso
from constlang.runtime.stages import StageContext, runner_for
from constlang.runtime.stages.critique_revision import CritiqueRevisionDir


def complete_by_hand(run: RunDir, stage: str, kind: str, plan_hash: str | None = "sha256:p",
                     inputs_hash: str = "sha256:i") -> None:
    """Write a completed manifest for the files a test put in `stage`'s folder by hand, with
    the outputs hash and file records the runner would have written (so the run trusts it)."""
    folder = run.stage(stage)
    ctx = StageContext(None, SimpleNamespace(name=stage), Path("."), run,  # type: ignore[arg-type]
                       Console(), "cpu")
    runner = runner_for(kind)
    assert runner is not None
    folder.write_manifest(Manifest(stage=stage, kind=kind, status="completed",
                                   inputs_hash=inputs_hash, plan_hash=plan_hash or "",
                                   outputs_hash=runner(ctx).outputs(),
                                   files=record_outputs(folder.path), started_at=now_iso()))


def compile_with_prompts(tmp_path: Path, text: str,
                         n: int) -> tuple[CompileResult, list[PromptRow]]:
    """Write `text` as c.const and n prompts (ids q0.., text PROMPT-0..) as prompts.jsonl, compile
    it, and read dataset `d` back; the constitution must compile."""
    (tmp_path / "c.const").write_text(text, "utf-8")
    lines = [json.dumps({"id": f"q{i}", "prompt": f"PROMPT-{i}"}) for i in range(n)]
    (tmp_path / "prompts.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    return result, read_prompts(result.plan.dataset("d"), result.base_dir)


def finished_critique_revision(run: RunDir, plan_hash: str | None,
                               replies: list[tuple[str, str, str]],
                               drops: dict[int, str] | None = None) -> None:
    """A completed critique_revision stage written by hand into `run`, for the stages that read
    it: prompt i (`prompt_id` p{i}) is answered `initial` and revised to `final`, from
    replies[i] = (prompt, initial, final); `drops` gives a revision's SFT drop reason."""
    upstream = CritiqueRevisionDir.of(run.stage("critique_revision"))
    upstream.path.mkdir(parents=True)
    upstream.rows.write_text("".join(json.dumps(
        {"index": i, "prompt_id": f"p{i}", "prompt": prompt, "initial": initial,
         "final": final}) + "\n" for i, (prompt, initial, final) in enumerate(replies)))
    upstream.sft_data.write_text("".join(json.dumps(
        {"index": i, "last": True, "drop": (drops or {}).get(i), "source": "revision"}) + "\n"
        for i in range(len(replies))))
    complete_by_hand(run, "critique_revision", "critique_revision", plan_hash)


# every stage kind on one tiny model: {model} is a model directory
WHOLE_METHOD = """constlang 1
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


def write_whole_method(tmp_path: Path, model: Path) -> Path:
    """tiny.const (every stage kind, on the tiny model at `model`) and its data files."""
    path = tmp_path / "tiny.const"
    path.write_text(WHOLE_METHOD.format(model=model), "utf-8")
    for name, n in (("prompts", 4), ("harmful", 3), ("benign", 2)):
        (tmp_path / f"{name}.jsonl").write_text("".join(
            json.dumps({"id": f"{name}-{i}", "prompt": f"{name} question number {i}?"}) + "\n"
            for i in range(n)), "utf-8")
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(
        {"prompt": f"Question {i}?", "better": "A calm and careful answer.",
         "worse": "Go away!"}) + "\n" for i in range(2)), "utf-8")
    return path
