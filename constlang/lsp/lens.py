"""Render preview: a code lens on each stage that sends prompts, and the command that renders
the stage's first step for its dataset's first row, as `constlang render` prints it."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from lsprotocol import types as T

from constlang.lsp.analysis import Analysis
from constlang.lsp.positions import LineIndex
from constlang.syntax import ast

RENDER_COMMAND = "constlang.renderPrompt"
_preview_dir: Path | None = None


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
    """A file holding the rendered prompt, for the editor to open, in this process's private
    folder; the file is opened without following a symbolic link."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", stage) + ".txt"
    path = _private_dir() / name
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(path, flags, 0o600), "w", encoding="utf-8") as out:
        out.write(text)
    return path


def _private_dir() -> Path:
    """A folder only this user can enter: made by mkdtemp (mode 0700, under a fresh random
    name, so nothing planted in the shared temporary directory can stand in for it) and
    checked again before each use, as a temp cleaner may remove it and another user may then
    put something under its name. It is removed when the server exits."""
    global _preview_dir
    if _preview_dir is None or not _is_private(_preview_dir):
        _preview_dir = Path(tempfile.mkdtemp(prefix="constlang-render-"))
        atexit.register(shutil.rmtree, _preview_dir, ignore_errors=True)
    return _preview_dir


def _is_private(folder: Path) -> bool:
    try:
        st = os.lstat(folder)
    except OSError:
        return False
    owner = getattr(os, "geteuid", lambda: st.st_uid)()
    return stat.S_ISDIR(st.st_mode) and st.st_uid == owner and not st.st_mode & 0o077
