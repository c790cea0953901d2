"""Shared test helpers for the runtime: a compiled constitution beside a small prompt file, and
a finished critique_revision stage written by hand."""

from __future__ import annotations

import json
from pathlib import Path

from constlang.compile import CompileResult, compile_path
from constlang.runtime.data import PromptRow, read_prompts
from constlang.runtime.rundir import Manifest, RunDir, now_iso


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
    upstream = run.stage("critique_revision")
    upstream.path.mkdir(parents=True)
    upstream.rows.write_text("".join(json.dumps(
        {"index": i, "prompt_id": f"p{i}", "prompt": prompt, "initial": initial,
         "final": final}) + "\n" for i, (prompt, initial, final) in enumerate(replies)))
    upstream.sft_data.write_text("".join(json.dumps(
        {"index": i, "last": True, "drop": (drops or {}).get(i), "source": "revision"}) + "\n"
        for i in range(len(replies))))
    upstream.write_manifest(Manifest(stage="critique_revision", kind="critique_revision",
                                     status="completed", inputs_hash="sha256:i",
                                     plan_hash=plan_hash, outputs_hash="sha256:o",
                                     started_at=now_iso()))
