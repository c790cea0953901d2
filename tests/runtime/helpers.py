"""Shared test helpers for the runtime: a compiled constitution beside a small prompt file."""

from __future__ import annotations

import json
from pathlib import Path

from constlang.compile import CompileResult, compile_path
from constlang.runtime.data import PromptRow, read_prompts


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
