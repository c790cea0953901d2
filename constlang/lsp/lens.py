"""Render preview: a code lens on each stage that sends prompts, and the command that renders
the stage's first step for its dataset's first row, as `constlang render` prints it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from lsprotocol import types as T

from constlang.lsp.analysis import Analysis
from constlang.lsp.positions import LineIndex
from constlang.syntax import ast

RENDER_COMMAND = "constlang.renderPrompt"


def code_lenses(a: Analysis, uri: str, encoding: str) -> list[T.CodeLens]:
    plan = a.result.plan
    display = a.display
    if plan is None or a.index is None or display is None:
        return []
    with_prompts = {p.stage for p in plan.programs}
    lines = LineIndex(a.text, encoding)
    out = []
    for item in a.index.files[display].items:
        if isinstance(item, ast.Declaration) and item.kind == "stage" \
                and item.name in with_prompts:
            out.append(T.CodeLens(lines.span_range(item.name_span), T.Command(
                title="render prompt", command=RENDER_COMMAND, arguments=[uri, item.name])))
    return out


def render_prompt(a: Analysis, stage: str) -> str:
    """The text `constlang render --stage STAGE` prints for the stage's first step."""
    from constlang.preview import SAMPLE_PROMPT, first_prompt
    from constlang.prompts import chat_text, render_stage

    plan = a.result.plan
    if plan is None:
        raise ValueError("the file has errors; fix them to render its prompts")
    if stage not in [p.stage for p in plan.programs]:
        raise ValueError(f"stage `{stage}` sends no prompts")
    dataset = getattr(plan.stage(stage).settings, "prompts", None)
    prompt = (dataset and first_prompt(plan, dataset, a.result.base_dir)) or SAMPLE_PROMPT
    steps = render_stage(plan, stage, prompt)
    if not steps:
        raise ValueError(f"stage `{stage}` has no step to render")
    step = steps[0]
    stages = {s.name for s in plan.stages}
    caller = f"policy {step.model} (stage)" if step.model in stages else f"model {step.model}"
    return f"── {step.step} · template {step.template} · {caller} ──\n" + \
        chat_text(step.messages) + "\n"


def write_preview(stage: str, text: str) -> Path:
    """A file holding the rendered prompt, for the editor to open."""
    folder = Path(tempfile.gettempdir()) / "constlang-render"
    folder.mkdir(exist_ok=True)
    path = folder / f"{stage}.txt"
    path.write_text(text, encoding="utf-8")
    return path
