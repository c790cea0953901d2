"""The DPO stage on a tiny model: it trains on merged preference sources, moves the policy
towards the chosen replies, honours soft labels through robust DPO, and saves a loadable
model."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from rich.console import Console

from constlang.compile import compile_path
from constlang.plan import Model
from constlang.runtime import preference_rows as PR
from constlang.runtime import reward as R
from constlang.runtime.models import load_model
from constlang.runtime.preference_rows import PreferencesDir
from constlang.runtime.rundir import RunDir
from constlang.runtime.runner import run_plan
from constlang.runtime.stages.dpo import flip_rate

from .helpers import complete_by_hand, finished_critique_revision

PAIRS = 8

CONSTITUTION = """constlang 1
constitution "dpo-test" {{ version = "0.1.0" }}
principle p {{ critique = "c"  revision = "r" }}
model tiny {{ source = "{model}" }}
dataset d {{ path = "prompts.jsonl" }}
stage critique_revision {{ model = tiny  prompts = d }}
stage revision_pairs {{ from = critique_revision }}
stage judged {{ kind = revision_pairs  from = critique_revision }}
stage dpo {{
  from = [revision_pairs, judged]  policy = tiny  beta = 0.5  learning_rate = 5e-3
  epochs = 4  batch_size = 4  max_length = 128  {extra}
}}
"""


def prepare(tmp_path: Path, model: Path, extra: str = "") -> tuple[object, RunDir]:
    (tmp_path / "c.const").write_text(CONSTITUTION.format(model=model, extra=extra), "utf-8")
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "hi"}\n', "utf-8")
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, result.diagnostics
    run = RunDir(tmp_path / "runs")
    finished_critique_revision(run, result.plan.hash, [
        (f"Question {i}?", f"Go away, {i}.", f"Happy to help with {i}.") for i in range(PAIRS)])
    return result, run


def margin(model: object, tok: object, prompt: str, chosen: str, rejected: str) -> float:
    """log π(chosen | prompt) − log π(rejected | prompt), with the chat template."""
    def logp(reply: str) -> float:
        messages = [{"role": "user", "content": prompt}]
        head = tok.apply_chat_template(messages, tokenize=True,  # type: ignore[attr-defined]
                                       add_generation_prompt=True, return_dict=True)["input_ids"]
        ids = torch.tensor([R.conversation_ids(tok, messages, reply)])
        with torch.inference_mode():
            out = torch.log_softmax(model(ids).logits[0].float(), dim=-1)  # type: ignore
        return sum(float(out[t - 1, ids[0, t]]) for t in range(len(head), ids.shape[1]))
    return logp(chosen) - logp(rejected)


def test_dpo_moves_the_policy_towards_the_chosen_replies(tmp_path: Path,
                                                         tiny_model_dir: Path) -> None:
    result, run = prepare(tmp_path, tiny_model_dir)
    out = io.StringIO()
    done = run_plan(result.plan, base_dir=result.base_dir, run_dir=run.path,  # type: ignore
                    stages=["revision_pairs", "judged", "dpo"], device="cpu",
                    console=Console(file=out, width=200))
    assert [(s.name, s.status) for s in done.stages] == [
        ("revision_pairs", "completed"), ("judged", "completed"), ("dpo", "completed")]
    m = done.stages[2].metrics
    assert m["sources"] == {"revision_pairs": PAIRS, "judged": PAIRS}
    assert (m["train_pairs"], m["steps"], m["loss"], m["label_smoothing"]) == (
        2 * PAIRS, 16, "sigmoid", 0.0)  # 16 pairs / 4 per batch × 4 epochs
    assert m["last_logged"]["rewards/margins"] > 0
    folder = run.stage("dpo").model
    assert "DPO policy" in (folder / "README.md").read_text()
    before = load_model(Model(id="b", source=str(tiny_model_dir)), device="cpu")
    after = load_model(Model(id="a", source=str(folder)), device="cpu")
    gains = [margin(after.model, after.tokenizer, f"Question {i}?", f"Happy to help with {i}.",
                    f"Go away, {i}.")
             - margin(before.model, before.tokenizer, f"Question {i}?",
                      f"Happy to help with {i}.", f"Go away, {i}.") for i in range(PAIRS)]
    assert min(gains) > 0  # every pair: the chosen reply gained on the rejected one
    assert "saved" in out.getvalue() and "reward accuracy" in out.getvalue()


def test_robust_dpo_takes_its_flip_rate_from_the_soft_labels(tmp_path: Path,
                                                             tiny_model_dir: Path) -> None:
    result, run = prepare(tmp_path, tiny_model_dir, extra="loss = robust")
    done = run_plan(result.plan, base_dir=result.base_dir, run_dir=run.path,  # type: ignore
                    stages=["revision_pairs", "judged", "dpo"], device="cpu",
                    console=Console(file=io.StringIO()))
    # revision pairs are certain (p_chosen = 1): no flips implied
    assert done.stages[2].metrics["label_smoothing"] == 0.0
    assert done.stages[2].metrics["loss"] == "robust"


def test_flip_rate_is_the_mean_doubt_kept_under_one_half() -> None:
    def pair(p: float) -> dict:
        return {"p_chosen": p}

    assert flip_rate([pair(0.9), pair(0.7)]) == pytest.approx(0.2)
    assert flip_rate([pair(1.0)]) == 0.0
    assert flip_rate([pair(0.5), pair(0.5)]) == 0.45  # robust DPO divides by 1 − 2ε


def test_pairs_too_long_for_max_length_are_left_out_and_counted(tmp_path: Path,
                                                                tiny_model_dir: Path) -> None:
    result, run = prepare(tmp_path, tiny_model_dir, extra="")
    long = PR.make_row(index=99, prompt_id="p99", prompt=[{"role": "user", "content": "x"}],
                       chosen="word " * 300, rejected="no", p_chosen=1.0, p_judge=None,
                       source="revisions", stage="judged", judge=None, judgements=[],
                       finish={}, drop=None, plan_hash="sha256:x")
    run_plan(result.plan, base_dir=result.base_dir, run_dir=run.path,  # type: ignore
             stages=["revision_pairs", "judged"], device="cpu",
             console=Console(file=io.StringIO()))
    with PreferencesDir.of(run.stage("judged")).preferences.open("a") as fh:
        fh.write(json.dumps(long) + "\n")
    kind = run.stage("judged").read_manifest().kind  # type: ignore[union-attr]
    complete_by_hand(run, "judged", kind)  # the edited pairs are now what `judged` wrote
    done = run_plan(result.plan, base_dir=result.base_dir, run_dir=run.path,  # type: ignore
                    stages=["dpo"], device="cpu", console=Console(file=io.StringIO()))
    m = done.stages[0].metrics
    assert m["left_out"] == {"over_max_length": 1} and m["train_pairs"] == 2 * PAIRS
